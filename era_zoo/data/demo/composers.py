"""The table of facts behind the demo corpus's labels.

The music21 corpus stores its scores in folders by composer or collection,
and score metadata rarely carries a date (``corpus.parse('bach/bwv66.6')
.metadata.composer`` is None), so the labels come from this table, each fact
with its source named.

**The label rule** (one place: :func:`label_year`). The year of a piece is, in
this order of preference:

1. the date in the score's own music21 metadata (e.g. a Humdrum ``!!!ODT``
   record), when it has one; a range counts as its midpoint;
2. the documented composition or publication date of the work, from
   :data:`WORKS`, when the table lists it; a range counts as its midpoint;
3. the publication year of the collection, or the midpoint of the composer's
   documented active period, from :data:`COMPOSERS`.

Midpoints round down. Every track records which of the three gave its year
(``year_source``: ``"metadata"``, ``"work"`` or ``"composer"``).

**Artist texts carry no dates.** A composer's artist text
(:func:`artist_text`) is its name and a sentence of style, nationality,
forms, instruments and places, as a biography would give them, but no
year, date, century or number: most labels are the midpoint of the
composer's active period, so a text stating that period would state the
label (an earlier version did, and AudioArt-MMC scored 78 % within +-3 years
by reading it). The dates stay in :class:`Composer` for the labels.

Folders that are left out, and why, are in :data:`EXCLUDED_FOLDERS`: undated
traditional tunes (no documented year to label them with), teaching material,
and one piece whose composer cannot be identified.
"""
from dataclasses import dataclass
import re

GROVE = "Grove Music Online (Oxford University Press)"


@dataclass(frozen=True)
class Composer:
    """A composer, or a printed collection standing in for its many authors."""
    composer_id: str
    name: str
    born: str | None            # as documented, e.g. "c.1525"; None for collections
    died: str | None
    active: tuple               # (first year, last year) of documented activity or publication
    form: str                   # what the corpus holds of them ("chorale", "fiddle tune", ...)
    description: str            # one factual sentence without dates, the artist text
    source: str                 # where the dates and the description come from

    @property
    def label_year(self):
        return _midpoint(*self.active)


@dataclass(frozen=True)
class Work:
    """A documented date of a work (or a group of movements) in the corpus."""
    years: tuple                # (first, last); equal for a single year
    title: str
    source: str
    composer_id: str | None = None   # where a folder mixes composers (leadSheet)
    form: str | None = None


def _c(cid, name, born, died, active, form, description, source=GROVE):
    return cid, Composer(cid, name, born, died, tuple(active), form, description, source)


COMPOSERS = dict([
    _c("trecento", "Italian ars nova polyphony (PMFC edition)", None, None, (1330, 1400),
       "ars nova song and mass movement",
       "Italian polyphony of the ars nova: ballate, madrigals, cacce and mass movements by "
       "Landini, Jacopo da Bologna, Gherardello and anonymous composers, from a scholarly "
       "complete edition.",
       "Polyphonic Music of the Fourteenth Century (Editions de l'Oiseau-Lyre, 1956-1991), "
       "volume titles; period as in " + GROVE + ", 'Ars nova'"),
    _c("ciconia", "Johannes Ciconia", "c.1370", "1412", (1390, 1412), "motet",
       "Johannes Ciconia was a composer from Liège who worked in Padua, writing motets and "
       "songs that join the Italian ars nova to the northern style."),
    _c("josquin", "Josquin des Prez", "c.1450", "1521", (1459, 1521), "chanson and motet",
       "Josquin des Prez was a Franco-Flemish composer of masses, motets and chansons who "
       "sang at Milan cathedral and in the papal chapel."),
    _c("palestrina", "Giovanni Pierluigi da Palestrina", "c.1525", "1594", (1544, 1594), "mass movement",
       "Giovanni Pierluigi da Palestrina was an Italian composer of sacred polyphony, chiefly "
       "masses and motets, working in Rome."),
    _c("lusitano", "Vicente Lusitano", "c.1520", "after 1561", (1551, 1561), "madrigal",
       "Vicente Lusitano was a Portuguese composer and theorist whose motets were printed in "
       "Rome and who debated Nicola Vicentino on the chromatic genus."),
    _c("monteverdi", "Claudio Monteverdi", "1567", "1643", (1582, 1643), "madrigal",
       "Claudio Monteverdi was an Italian composer of madrigals, operas and church music, "
       "whose career spans the late Renaissance and the early Baroque."),
    _c("corelli", "Arcangelo Corelli", "1653", "1713", (1681, 1713), "trio sonata",
       "Arcangelo Corelli was an Italian violinist and composer of trio sonatas, violin "
       "sonatas and concerti grossi."),
    _c("bach", "Johann Sebastian Bach", "1685", "1750", (1703, 1750), "chorale",
       "Johann Sebastian Bach was a German composer and organist; the corpus holds his "
       "four-part chorale harmonisations from the cantatas and passions."),
    _c("handel", "George Frideric Handel", "1685", "1759", (1703, 1759), "aria",
       "George Frideric Handel was a German-born composer of operas, oratorios and "
       "instrumental music who worked mainly in London."),
    _c("cpebach", "Carl Philipp Emanuel Bach", "1714", "1788", (1731, 1788), "keyboard sonata",
       "Carl Philipp Emanuel Bach, a son of J. S. Bach, was a keyboard composer of the "
       "empfindsamer Stil working in Berlin and Hamburg."),
    _c("haydn", "Joseph Haydn", "1732", "1809", (1750, 1803), "string quartet",
       "Joseph Haydn was an Austrian composer of symphonies and string quartets, long in the "
       "service of the Esterházy family."),
    _c("mozart", "Wolfgang Amadeus Mozart", "1756", "1791", (1761, 1791), "string quartet",
       "Wolfgang Amadeus Mozart was an Austrian composer of operas, symphonies, concertos and "
       "chamber music, working in Salzburg and Vienna."),
    _c("airdsAirs", "Aird's Selection of Airs (collection)", None, None, (1782, 1803), "air and dance tune",
       "A Selection of Scotch, English, Irish and Foreign Airs, six volumes of melodies for "
       "fife or violin published by James Aird in Glasgow.",
       "the collection's title pages (Glasgow: J. Aird, 1782-1803)"),
    _c("beethoven", "Ludwig van Beethoven", "1770", "1827", (1782, 1827), "string quartet",
       "Ludwig van Beethoven was a German composer and pianist working in Vienna, whose "
       "string quartets span his early, middle and late periods."),
    _c("weber", "Carl Maria von Weber", "1786", "1826", (1798, 1826), "concertino",
       "Carl Maria von Weber was a German composer and conductor, an early Romantic known for "
       "the opera Der Freischütz and his clarinet works."),
    _c("schubert", "Franz Schubert", "1797", "1828", (1810, 1828), "lied",
       "Franz Schubert was an Austrian composer of a great many lieder, of symphonies and of "
       "chamber music."),
    _c("chopin", "Frédéric Chopin", "1810", "1849", (1817, 1849), "mazurka",
       "Frédéric Chopin was a Polish composer and pianist working in Paris, writing almost "
       "entirely for solo piano."),
    _c("schumann_robert", "Robert Schumann", "1810", "1856", (1829, 1854), "string quartet and lied",
       "Robert Schumann was a German composer and critic of piano music, lieder, symphonies "
       "and chamber music."),
    _c("verdi", "Giuseppe Verdi", "1813", "1901", (1839, 1893), "opera aria",
       "Giuseppe Verdi was an Italian opera composer whose stage works run from Oberto to "
       "Falstaff."),
    _c("schumann_clara", "Clara Schumann", "1819", "1896", (1828, 1896), "piano piece and trio",
       "Clara Schumann (née Wieck) was a German pianist and composer of piano music, lieder "
       "and a piano trio."),
    _c("stephen_foster", "Stephen Foster", "1826", "1864", (1844, 1864), "parlour song",
       "Stephen Foster was an American songwriter of parlour and minstrel songs."),
    _c("liliuokalani", "Liliʻuokalani", "1838", "1917", (1860, 1917), "song",
       "Liliʻuokalani was the last monarch of the Kingdom of Hawaii and a composer of songs."),
    _c("ryansMammoth", "Ryan's Mammoth Collection (collection)", None, None, (1883, 1883), "fiddle tune",
       "Ryan's Mammoth Collection of reels and jigs, hornpipes, clogs and other dance tunes "
       "for the violin, edited by William Bradbury Ryan and published in Boston.",
       "the collection's title page (Boston: Elias Howe, 1883)"),
    _c("beach", "Amy Beach", "1867", "1944", (1883, 1944), "piano piece",
       "Amy Beach was an American composer and pianist, the first American woman to succeed as "
       "a composer of large-scale art music."),
    _c("joplin", "Scott Joplin", "c.1868", "1917", (1895, 1917), "ragtime",
       "Scott Joplin was an American composer of ragtime piano music."),
    _c("johnson_j_r", "J. Rosamond Johnson", "1873", "1954", (1900, 1954), "song",
       "J. Rosamond Johnson was an American composer and singer of the Harlem Renaissance."),
    _c("schoenberg", "Arnold Schoenberg", "1874", "1951", (1893, 1951), "piano piece",
       "Arnold Schoenberg was an Austrian composer who led the move to atonality and devised "
       "the twelve-tone method."),
    _c("irving_berlin", "Irving Berlin", "1888", "1989", (1907, 1962), "popular song",
       "Irving Berlin was an American songwriter of Tin Pan Alley and Broadway."),
    _c("webern", "Anton Webern", "1883", "1945", (1904, 1945), "canon",
       "Anton Webern was an Austrian composer, a pupil of Schoenberg, known for concise "
       "twelve-tone works."),
    _c("oneills1850", "O'Neill's Music of Ireland (collection)", None, None, (1903, 1903), "fiddle tune",
       "O'Neill's Music of Ireland, Irish airs and dance tunes collected by Francis O'Neill, "
       "chief of the Chicago police.",
       "the collection's title page (Chicago: Lyon & Healy, 1903)"),
])

# Corpus folder -> composer id, for the folders that are used. A composer's id
# is its folder's name, except for the songwriters of the mixed leadSheet
# folder, whose composer WORKS names per piece.
_LEAD_SHEET_COMPOSERS = ("stephen_foster", "irving_berlin")
FOLDERS = {cid: cid for cid in COMPOSERS if cid not in _LEAD_SHEET_COMPOSERS}
FOLDERS["leadSheet"] = None

EXCLUDED_FOLDERS = {
    "essenFolksong": "traditional German songs without documented dates",
    "miscFolk": "traditional tunes without documented dates",
    "nottingham-dataset": "traditional tunes without documented dates",
    "demos": "music21 demonstration files, not repertoire",
    "theoryExercises": "harmony exercises, not repertoire",
    "luca": "composer ('D. Luca') not identified in the reference works",
}

# Documented dates of works, keyed by corpus path without extension or by a
# folder prefix ending in "/" (all movements of a work). Sources: GROVE work
# lists unless named.
WORKS = {
    "beethoven/opus18": Work((1798, 1800), "String Quartets op. 18", GROVE),
    "beethoven/opus59": Work((1806, 1806), "'Razumovsky' String Quartets op. 59", GROVE),
    "beethoven/opus74": Work((1809, 1809), "String Quartet op. 74 'Harp'", GROVE),
    "beethoven/opus132": Work((1825, 1825), "String Quartet op. 132", GROVE),
    "beethoven/opus133": Work((1825, 1826), "Große Fuge op. 133", GROVE),
    "haydn/opus1no1/": Work((1757, 1762), "String Quartet op. 1 no. 1", GROVE),
    "haydn/opus74no1/": Work((1793, 1793), "String Quartet op. 74 no. 1", GROVE),
    "mozart/k80/": Work((1770, 1770), "String Quartet K. 80 'Lodi'", GROVE),
    "mozart/k155/": Work((1772, 1772), "String Quartet K. 155", GROVE),
    "mozart/k156/": Work((1772, 1772), "String Quartet K. 156", GROVE),
    "mozart/k458/": Work((1784, 1784), "String Quartet K. 458 'Hunt'", GROVE),
    "mozart/k545/": Work((1788, 1788), "Piano Sonata K. 545", GROVE, form="piano sonata"),
    "monteverdi/madrigal.3.": Work((1592, 1592), "Il terzo libro de madrigali",
                                   "the print's title page (Venice: Amadino, 1592)"),
    "monteverdi/madrigal.4.": Work((1603, 1603), "Il quarto libro de madrigali",
                                   "the print's title page (Venice: Amadino, 1603)"),
    "monteverdi/madrigal.5.": Work((1605, 1605), "Il quinto libro de madrigali",
                                   "the print's title page (Venice: Amadino, 1605)"),
    "corelli/opus3no1/": Work((1689, 1689), "Sonate da chiesa op. 3",
                              "the print's title page (Rome, 1689)"),
    "handel/rinaldo/": Work((1711, 1711), "Rinaldo, HWV 7", GROVE),
    "weber/concertino_clarinet": Work((1811, 1811), "Clarinet Concertino op. 26", GROVE),
    "schubert/Lindenbaum": Work((1827, 1827), "Der Lindenbaum, Winterreise D. 911", GROVE),
    "schumann_robert/opus41no1/": Work((1842, 1842), "String Quartet op. 41 no. 1", GROVE),
    "schumann_robert/opus48no2": Work((1840, 1840), "Dichterliebe op. 48", GROVE),
    "schumann_robert/dichterliebe_no2": Work((1840, 1840), "Dichterliebe op. 48", GROVE),
    "schumann_clara/polonaise_op1": Work((1831, 1831), "Quatre polonaises op. 1", GROVE),
    "schumann_clara/opus17/": Work((1846, 1846), "Piano Trio op. 17", GROVE),
    "verdi/laDonnaEMobile": Work((1851, 1851), "'La donna è mobile', Rigoletto", GROVE),
    "leadSheet/fosterBrownHair": Work((1854, 1854), "Jeanie with the Light Brown Hair", GROVE,
                                      composer_id="stephen_foster"),
    "liliuokalani/aloha_oe": Work((1878, 1878), "Aloha ʻOe", GROVE),
    "joplin/maple_leaf_rag": Work((1899, 1899), "Maple Leaf Rag", GROVE),
    "johnson_j_r/lift_every_voice": Work((1900, 1900), "Lift Every Voice and Sing", GROVE),
    "leadSheet/berlinAlexandersRagtime": Work((1911, 1911), "Alexander's Ragtime Band", GROVE,
                                              composer_id="irving_berlin"),
    "schoenberg/opus19/": Work((1911, 1911), "Sechs kleine Klavierstücke op. 19", GROVE),
    "webern/webern_dormi_jesu_op_16": Work((1923, 1924), "Fünf Canons op. 16", GROVE),
}

# Coarse style periods, used only to stratify the splits (the label stays the
# year). Boundaries are the conventional ones of music history surveys.
ERAS = (("medieval", None, 1400), ("renaissance", 1400, 1600), ("baroque", 1600, 1750),
        ("classical", 1750, 1820), ("romantic", 1820, 1900), ("modern", 1900, None))


def _midpoint(first, last):
    return (int(first) + int(last)) // 2


def era_of(year):
    for name, start, end in ERAS:
        if (start is None or year >= start) and (end is None or year < end):
            return name
    raise AssertionError("ERAS covers every year")


def work_for(source):
    """The WORKS entry for a corpus path without extension ("mozart/k458/movement1"),
    the longest matching key winning."""
    best = None
    for key, work in WORKS.items():
        if source.startswith(key):
            if best is None or len(key) > len(best[0]):
                best = (key, work)
    return best[1] if best else None


def composer_for(source):
    """The composer id of a corpus path without extension, or None when its
    folder is not used."""
    folder = source.split("/", 1)[0]
    if folder not in FOLDERS:
        return None
    if FOLDERS[folder] is not None:
        return FOLDERS[folder]
    work = work_for(source)
    return work.composer_id if work else None


_YEAR = re.compile(r"(?<!\d)(\d{3,4})(?!\d)")


def metadata_years(date_text):
    """Years in a music21 metadata date ("1830///-1832///" -> (1830, 1832)),
    or None when it holds none."""
    if not date_text:
        return None
    years = [int(y) for y in _YEAR.findall(str(date_text)) if 800 <= int(y) <= 2100]
    return (min(years), max(years)) if years else None


def label_year(source, metadata_date=None):
    """(year, year_source) of a piece by the rule in this module's docstring."""
    years = metadata_years(metadata_date)
    if years:
        return _midpoint(*years), "metadata"
    work = work_for(source)
    if work:
        return _midpoint(*work.years), "work"
    cid = composer_for(source)
    if cid is None:
        raise KeyError(f"{source}: no composer in the demo table")
    return COMPOSERS[cid].label_year, "composer"


def form_of(source):
    work = work_for(source)
    if work and work.form:
        return work.form
    return COMPOSERS[composer_for(source)].form


def artist_text(composer):
    """The artist text of a composer: its name and its description, with no
    year, date or century (see the module docstring)."""
    return f"{composer.name}. {composer.description}"
