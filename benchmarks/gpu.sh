#!/usr/bin/env bash
# benchmarks/gpu.py on a machine with JAX and PyTorch but no TensorFlow and
# no network, such as the project's lent GPU machines (Python 3.12, no keras).
#
#   bash benchmarks/gpu.sh fetch     # where pip reaches PyPI: keras and the two
#                                    # packages it needs that such a machine
#                                    # lacks, as Python 3.12 wheels in .whl/
#   bash benchmarks/gpu.sh [ARGS]    # there, with .whl/ carried along: installs
#                                    # them into /tmp/site when keras is missing,
#                                    # then runs benchmarks/gpu.py ARGS on the
#                                    # checkout's era_zoo (a few minutes)
#
# era_zoo's model code needs only keras, NumPy and JAX at import; the
# benchmark adds PyTorch. ERA_ZOO_WHEELS names another wheel folder, PYTHON
# another interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
wheels=${ERA_ZOO_WHEELS:-.whl}
python=${PYTHON:-python3}

if [[ "${1:-}" == fetch ]]; then
    "$python" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d "$wheels" \
        keras==3.15.1 namex==0.1.0 optree==0.20.0
    ls "$wheels"
    exit 0
fi

if ! "$python" -c "import keras" 2>/dev/null; then
    "$python" -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir \
        --upgrade --target /tmp/site "$wheels"/*.whl
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1
exec "$python" benchmarks/gpu.py "$@"
