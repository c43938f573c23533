#!/usr/bin/env bash
# Installs the optional system packages of the demo corpus renderer when it can
# (root with apt). Never fails: era_zoo has a pure-Python fallback synthesizer.
sf=/usr/share/sounds/sf2/TimGM6mb.sf2
if command -v fluidsynth >/dev/null 2>&1 && [ -f "$sf" ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "era_zoo: installing fluidsynth and timgm6mb-soundfont (demo renderer)"
  (apt-get install -y -qq fluidsynth timgm6mb-soundfont >/dev/null 2>&1 ||
   { apt-get update -qq >/dev/null 2>&1 &&
     apt-get install -y -qq fluidsynth timgm6mb-soundfont >/dev/null 2>&1; }) ||
    echo "era_zoo: could not install fluidsynth; the pure-Python synthesizer will be used"
else
  echo "era_zoo: fluidsynth not found and not root; the pure-Python synthesizer will be used"
fi
exit 0
