"""A synthetic articles folder shaped like the newsroom's, for benchmarks and tests.

`python benchmarks/corpus.py DIR --count N [--seed S]` writes N files named like
`2020/07/000_<16 hex>.txt` in the exact layout of `example-article.txt` (editorial key
order, blank lines between groups, double-quoted strings, `Z` timestamps, related blocks,
an opaque `secured` blob). One file in 100 is awkward but valid (CRLF, BOM, a `---` line
in the body, unicode and colons in the title, `.md`) and one in 200 is broken (invalid
YAML, no front matter, no closing `---`, `quality: high`, `published: maybe`, a list as
front matter), each kind in turn, so an index meets what real folders hold and 1,200
files hold every kind. About one file in ten is a planted copy of one of the last 30
plain originals (`_copy_of`: the same page with tracking parameters, or another outlet's
copy with a suffix, case, punctuation or a word changed and the excerpt cut or
lengthened), listed in the manifest under "copies" for the story-cluster benchmark. The
same seed gives the same bytes.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = ".corpus.json"  # hidden: the index and the baseline scan both skip it
AWKWARD_EVERY = 100  # 1% awkward, cycling through AWKWARD_KINDS
BROKEN_EVERY = 200  # 0.5% broken, cycling through BROKEN_KINDS
FILES_PER_MONTH = 1000
FIRST_YEAR = 2018

COPY_SHARE = 0.1  # of the plain files: a planted copy of a recent original
RECENT_ORIGINALS = 30  # copies are made of one of the last originals written

AWKWARD_KINDS = ("crlf", "bom", "body_rule", "unicode_title", "markdown")
BROKEN_KINDS = (
    "invalid_yaml", "no_front_matter", "not_closed", "quality_text", "published_maybe",
    "list_front_matter",
)

TOPICS = (
    "AI", "Computer Vision", "Machine Learning", "Robotics", "Cybersecurity", "Privacy",
    "Cloud", "Data Centers", "Semiconductors", "Quantum Computing", "5G", "Broadband",
    "Energy", "Climate", "Batteries", "Solar", "Wind Power", "Electric Vehicles",
    "Transportation", "Aviation", "Space", "Health", "Biotech", "Pharma", "Public Health",
    "Elections", "Policy", "Regulation", "Courts", "Defense", "Immigration", "Education",
    "Labor", "Housing", "Finance", "Banking", "Crypto", "Retail", "Agriculture", "Water",
    "Wildfires", "Weather", "Oceans", "Cities", "Smart Cities", "Open Source", "Startups",
    "Biometrics", "Supply Chain", "Telecom",
)
PROVIDERS = (
    ("Nextgov", "nextgov.com"), ("Biometric Update", "biometricupdate.com"),
    ("The Grid Report", "gridreport.example.net"), ("Policy Ledger", "policyledger.example.org"),
    ("Climate Desk Weekly", "climatedesk.example.org"), ("Example News", "example-news.org"),
    ("Secure Line Daily", "securelinedaily.example.com"), ("Health Wire", "healthwire.example"),
    ("Orbit Post", "orbitpost.example.com"), ("Metro Ledger", "metroledger.example.net"),
    ("Chip Insider", "chipinsider.example.com"), ("Field Notes", "fieldnotes.example.org"),
    ("Harbor Times", "harbortimes.example.com"), ("The Circuit", "thecircuit.example.net"),
    ("Civic Signal", "civicsignal.example.org"), ("Market Current", "marketcurrent.example"),
    ("Open Source Daily", "osdaily.example.org"), ("Transit Beat", "transitbeat.example.com"),
    ("Farm & Water", "farmwater.example.net"), ("Defense Line", "defenseline.example.com"),
)
SUBJECTS = (
    "Regional Grid", "County Clerks", "Federal Agencies", "City Council", "Hospital Network",
    "State Regulators", "Chipmakers", "Researchers", "Port Authority", "School Districts",
    "Transit Operator", "Startup Founders", "Cloud Providers", "Water Utility", "Lawmakers",
    "CBP", "The Pentagon", "Insurers", "Farmers", "Election Officials", "Open-Source Maintainers",
)
VERBS = (
    "Adds", "Tests", "Expands", "Delays", "Rolls Out", "Pilots", "Rejects", "Approves",
    "Questions", "Doubles", "Cuts", "Audits", "Launches", "Retires", "Weighs", "Funds",
)
OBJECTS = (
    "Battery Storage", "Paper-Ballot Audits", "Facial Recognition", "Quantum-Safe Networks",
    "Rooftop Solar", "Data Center Permits", "Broadband Grants", "Drone Inspections",
    "Flood Sensors", "Chip Subsidies", "Telehealth Rules", "EV Chargers", "Cloud Contracts",
    "Wildfire Cameras", "Vaccine Logistics", "Satellite Links", "AI Procurement Rules",
    "Biometric Exits", "Water Recycling", "Open Data Portals",
)
QUALIFIERS = (
    "Ahead of Peak Demand", "With Statistical Sampling Tools", "After Warehouse Incident",
    "in Public Spaces", "for the First Time", "Despite Budget Gaps", "Across Three States",
    "as Costs Fall", "Under New Guidance", "Before Winter", "With Mixed Results", "",
)
SENTENCES = (
    "Officials said the change would take effect within weeks",
    "Critics warned that oversight has not kept pace with adoption",
    "The pilot covers four sites and will be reviewed after a year",
    "Vendors have until the end of the quarter to respond",
    "The agency expects the program to pay for itself within five years",
    "Early results suggest error rates fell by a third",
    "Local groups asked for public hearings before any expansion",
    "Analysts say demand is likely to keep rising through next year",
    "The plan still needs approval from the state legislature",
    "Engineers described the rollout as cautious but steady",
)
AWKWARD_TITLES = (
    "Zürich’s Quantum-Safe Network: Hospitals, Banks — and 東京 Next?",
    "Q&A: “Why We Paused” – Ärzte Explain the Telehealth Rollback",
    "Update: 5G Towers, Again: What Changed in Kraków’s Plan",
    "Ñandú Robotics Raises €40M: Drones for São Paulo’s Farms",
)
FAR_FUTURE_YEAR = 2027


@dataclass
class CorpusSummary:
    """What was written: every file id, and the awkward and broken ones with their kind."""

    ids: list[str] = field(default_factory=list)
    awkward: dict[str, str] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)
    copies: dict[str, list] = field(default_factory=dict)  # copy id -> [original id, kind]


def months_for(count: int) -> list[tuple[int, int]]:
    """Enough consecutive months from January 2018 that no folder holds over 1,000 files."""
    needed = max(min(count, 12), -(-count // FILES_PER_MONTH))
    return [(FIRST_YEAR + m // 12, m % 12 + 1) for m in range(needed)]


def _slug(text: str) -> str:
    kept = "".join(c.lower() if c.isascii() and c.isalnum() else " " for c in text)
    return "-".join(kept.split())


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _timestamp(rng: random.Random, year: int, month: int) -> str:
    return (f"{year:04d}-{month:02d}-{rng.randint(1, 28):02d}T"
            f"{rng.randint(0, 23):02d}:{rng.choice((0, 5, 15, 21, 30, 40, 45)):02d}:00Z")


def _title(rng: random.Random) -> str:
    title = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}"
    qualifier = rng.choice(QUALIFIERS)
    title = f"{title} {qualifier}" if qualifier else title
    if rng.random() < 0.1:  # the example's curly apostrophe
        title = title.replace("s ", "’s ", 1)
    return title


def _excerpt(rng: random.Random, sentences: int) -> str:
    return ". ".join(rng.sample(SENTENCES, sentences)) + "." if sentences else ""


def _image_lines(rng: random.Random, indent: str, domain: str, slug: str, year: int,
                 month: int, title: str | None) -> list[str]:
    width, height = rng.choice(((1200, 630), (800, 450), (640, 260), (400, 400), (1024, 576)))
    lines = [
        f'{indent}- url: "https://cdn.{domain}/media/img/upload/{year}/{month:02d}/'
        f'{slug[:48]}/open-graph.jpg"',
        f"{indent}  width: {width}",
        f"{indent}  height: {height}",
        f"{indent}  isCached: {'true' if rng.random() < 0.8 else 'false'}",
    ]
    if title is not None:
        lines.append(f"{indent}  title: {_quoted(title)}")
    return lines


def _related(rng: random.Random, year: int, month: int) -> list[str]:
    title = _title(rng)
    slug = _slug(title)
    name, domain = rng.choice(PROVIDERS)
    excerpt = _excerpt(rng, rng.randint(2, 3))
    excerpt = excerpt[: excerpt.rfind(" ", 0, rng.randint(len(excerpt) // 2, len(excerpt)))]
    return [
        f"  - title: {_quoted(title)}",
        f"    excerpt: {_quoted(excerpt)}",
        f"    publishedDateTime: {_timestamp(rng, year, month)}",
        f'    webUrl: "https://www.{domain}/{year}/{month:02d}/{slug}"',
        "    type: article",
        "    provider:",
        f"      name: {name}",
        f"      domain: {domain}",
        f"    quality: {rng.randint(0, 100)}",
        "    images:",
        *_image_lines(rng, "      ", domain, slug, year, month, None),
    ]


@dataclass(frozen=True)
class Story:
    """What copies of one story share, more or less: see `_copy_of`."""

    title: str
    excerpt: str
    moment: dt.datetime
    web_url: str
    provider: tuple[str, str]


def _new_story(rng: random.Random, year: int, month: int, title: str | None) -> Story:
    title = title or _title(rng)
    name, domain = rng.choice(PROVIDERS)
    moment = dt.datetime.fromisoformat(_timestamp(rng, year, month).replace("Z", "+00:00"))
    url = (f"https://www.{domain}/{year}/{month:02d}/{_slug(title)}/"
           f"{rng.randint(100000, 999999)}/")
    return Story(title, f"{_lede(rng)} {_excerpt(rng, rng.randint(0, 2))}".rstrip(" ."), moment,
                 url, (name, domain))


# Every story opens with its own lede (a pool of ten sentences made unrelated articles
# share ledes, which no real folder does): words drawn from the corpus's own vocabulary.
LEDE_WORDS = sorted({w.strip(",.").lower() for text in (*SENTENCES, *SUBJECTS, *OBJECTS,
                                                        *QUALIFIERS) for w in text.split()})


def _lede(rng: random.Random) -> str:
    return " ".join(rng.choices(LEDE_WORDS, k=rng.randint(10, 16))).capitalize() + "."


def article_text(rng: random.Random, year: int, month: int, title: str | None = None,
                 published: str | None = None, quality: str | None = None,
                 story: Story | None = None) -> str:
    """One article in the example's layout; the keyword arguments let a caller spoil it,
    or give the story it tells (a copy)."""
    story = story or _new_story(rng, year, month, title)
    slug = _slug(story.title)
    name, domain = story.provider
    topics = rng.sample(TOPICS, rng.choice((1, 1, 2, 2, 2, 3)))
    lines = [
        "---",
        "category: news",
        f"title: {_quoted(story.title)}",
        f"excerpt: {_quoted(story.excerpt)}",
        f"publishedDateTime: {story.moment.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        f"webUrl: {_quoted(story.web_url)}",
        "type: article",
        f"quality: {quality if quality is not None else rng.randint(0, 100)}",
        f"heat: {rng.randint(0, 100)}",
        f"published: {published or ('true' if rng.random() < 0.3 else 'false')}",
        "",
        "provider:",
        f"  name: {name}",
        f"  domain: {domain}",
        "",
        "topics:",
        *(f"  - {topic}" for topic in topics),
        "",
    ]
    if rng.random() < 0.85:
        lines += ["images:", *_image_lines(rng, "  ", domain, slug, year, month, story.title),
                  ""]
    related = rng.choice((0, 0, 1, 1, 1, 2, 3))
    if related:
        lines.append("related:")
        for _ in range(related):
            lines += _related(rng, year, month)
        lines.append("")
    blob = base64.b64encode(rng.randbytes(256)).decode()
    salt = base64.b64encode(rng.randbytes(16)).decode()
    lines += [f'secured: "{blob};{salt}"', "---", ""]
    if rng.random() < 0.2:
        lines += [_excerpt(rng, 3), ""]
    return "\n".join(lines) + "\n"


# Words a syndicating outlet swaps in a title.
SYNONYMS = {"Adds": "Installs", "Tests": "Trials", "Expands": "Grows", "Delays": "Postpones",
            "Rolls Out": "Deploys", "Pilots": "Trials", "Rejects": "Blocks",
            "Approves": "Backs", "Questions": "Challenges", "Doubles": "Boosts",
            "Cuts": "Trims", "Audits": "Reviews", "Launches": "Starts", "Retires": "Ends",
            "Weighs": "Considers", "Funds": "Finances"}
TRACKING = ("utm_source=newsletter&utm_medium=email", "fbclid=IwAR0x9", "gclid=Cj0KCQ",
            "utm_campaign=morning&utm_content=top")


def _copy_of(rng: random.Random, story: Story) -> tuple[Story, str]:
    """A planted copy of `story` and how it was made: "url" (the same page fetched again:
    www./m., tracking parameters, a fragment, the trailing slash) or "text" (another
    outlet: its suffix on the title, case, punctuation or a word changed, the excerpt
    cut short or lengthened). Published up to 48 hours after the original."""
    moment = story.moment + dt.timedelta(minutes=rng.randint(0, 48 * 60))
    if rng.random() < 0.25:
        url = story.web_url.replace("https://www.", rng.choice(("https://", "https://m.")), 1)
        if rng.random() < 0.5:
            url = url.rstrip("/")
        url += "?" + rng.choice(TRACKING)
        if rng.random() < 0.3:
            url += "#comments"
        provider = story.provider if rng.random() < 0.5 else rng.choice(PROVIDERS)
        title = story.title if rng.random() < 0.7 else f"{story.title} | {provider[0]}"
        return Story(title, story.excerpt, moment, url, provider), "url"
    provider = rng.choice([p for p in PROVIDERS if p != story.provider])
    title = story.title
    for verb, synonym in SYNONYMS.items():
        if f" {verb} " in title and rng.random() < 0.4:
            title = title.replace(f" {verb} ", f" {synonym} ", 1)
            break
    if rng.random() < 0.3:
        title = title.lower() if rng.random() < 0.5 else title.upper()
    if rng.random() < 0.2:
        title = title.replace(" ", ": ", 1)
    title += rng.choice((f" | {provider[0]}", f" - {provider[0]}", f" — {provider[0]}", ""))
    excerpt = story.excerpt
    cut = rng.random()
    if cut < 0.3:  # cut short at a word, keeping at least the first 60%
        end = excerpt.rfind(" ", int(len(excerpt) * 0.6)) if len(excerpt) > 80 else -1
        excerpt = excerpt[:end] if end > 0 else excerpt
    elif cut < 0.5:
        excerpt = f"{excerpt} {_excerpt(rng, 1)}"
    url = (f"https://www.{provider[1]}/{moment.year}/{moment.month:02d}/{_slug(title)[:60]}/"
           f"{rng.randint(100000, 999999)}/")
    return Story(title, excerpt, moment, url, provider), "text"


def _awkward(kind: str, rng: random.Random, year: int, month: int) -> tuple[str, bytes]:
    """(extension, bytes) of a file that is odd but must index as a usable article."""
    if kind == "unicode_title":
        return ".txt", article_text(rng, year, month, title=rng.choice(AWKWARD_TITLES)).encode()
    text = article_text(rng, year, month)
    if kind == "crlf":
        return ".txt", text.replace("\n", "\r\n").encode()
    if kind == "bom":
        return ".txt", ("\ufeff" + text).encode()
    if kind == "body_rule":
        return ".md", (text + "## Notes\n\n---\n\nA horizontal rule above; not front matter.\n"
                       "---\n").encode()
    return ".md", text.encode()  # markdown


def _broken(kind: str, rng: random.Random, year: int, month: int) -> bytes:
    """A file that must be reported broken, with its mistake somewhere in the front matter."""
    if kind == "quality_text":
        return article_text(rng, year, month, quality="high").encode()
    if kind == "published_maybe":
        return article_text(rng, year, month, published="maybe").encode()
    if kind == "list_front_matter":
        return b"---\n- just\n- a list\n---\nbody\n"
    text = article_text(rng, year, month)
    if kind == "no_front_matter":
        return text.split("---\n", 2)[2].encode() or b"Just a body, no front matter.\n"
    if kind == "not_closed":
        return text[: text.rindex("---\n")].encode()
    # invalid YAML, placed early, in the middle or at the very end of the front matter
    head, _, tail = text.rpartition("\n---\n")
    where = rng.choice(("start", "middle", "end"))
    if where == "start":
        head = head.replace('title: "', 'title: "Unclosed quote', 1).replace('"\n', "\n", 1)
    elif where == "middle":
        head = head.replace("\ntopics:\n", "\ntopics:\n - misindented\n   also: wrong\n", 1)
    else:
        head += "\n  images: [unclosed"
    return (head + "\n---\n" + tail).encode()


def generate(folder: Path, count: int, seed: int = 1) -> CorpusSummary:
    """Write `count` article files below `folder`; same seed, same bytes."""
    rng = random.Random(seed)
    summary = CorpusSummary()
    months = months_for(count)
    per_month = -(-count // len(months))
    made: set[str] = set()
    offset = rng.randrange(BROKEN_EVERY)  # where the evenly spaced odd files fall
    recent: list[tuple[str, Story]] = []  # originals a copy may be made of
    story: Story | None = None
    copy: Story | None = None
    for number in range(count):
        year, month = months[number // per_month]
        sub = f"{year:04d}/{month:02d}"
        if number % per_month == 0:
            os.makedirs(folder / sub, exist_ok=True)
        slot = number + offset
        if slot % BROKEN_EVERY == 0:
            kind = BROKEN_KINDS[slot // BROKEN_EVERY % len(BROKEN_KINDS)]
            extension, data = ".txt", _broken(kind, rng, year, month)
        elif slot % AWKWARD_EVERY == AWKWARD_EVERY // 2:
            kind = AWKWARD_KINDS[slot // AWKWARD_EVERY % len(AWKWARD_KINDS)]
            extension, data = _awkward(kind, rng, year, month)
        elif recent and rng.random() < COPY_SHARE:
            kind = ""
            original_id, original = rng.choice(recent)
            copy, how = _copy_of(rng, original)
            extension, data = ".txt", article_text(rng, year, month, story=copy).encode()
        else:
            kind = ""
            story = _new_story(rng, year, month, None)
            extension, data = ".txt", article_text(rng, year, month, story=story).encode()
        article_id = f"{sub}/{number % per_month:03d}_{rng.getrandbits(64):016x}{extension}"
        if article_id in made:  # a 64-bit collision: keep the count exact anyway
            article_id = article_id.replace("_", "_dup", 1)
        made.add(article_id)
        if copy is not None:
            summary.copies[article_id] = [original_id, how]
            copy = None
        elif story is not None:
            recent.append((article_id, story))
            del recent[:-RECENT_ORIGINALS]
            story = None
        with open(folder / article_id, "wb") as handle:
            handle.write(data)
        summary.ids.append(article_id)
        if kind in BROKEN_KINDS:
            summary.broken[article_id] = kind
        elif kind:
            summary.awkward[article_id] = kind
    return summary


def write_manifest(folder: Path, count: int, seed: int, summary: CorpusSummary) -> None:
    """Written last, so its presence means the folder is complete and reusable."""
    document = {"count": count, "seed": seed, "awkward": summary.awkward,
                "broken": summary.broken, "copies": summary.copies}
    (folder / MANIFEST).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")


def read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", metavar="DIR", type=Path)
    parser.add_argument("--count", type=int, default=100_000, metavar="N")
    parser.add_argument("--seed", type=int, default=1, metavar="S")
    args = parser.parse_args(argv)
    if args.folder.exists() and any(args.folder.iterdir()):
        print(f"corpus: {args.folder} is not empty; choose a new folder", file=sys.stderr)
        return 2
    started = time.perf_counter()
    args.folder.mkdir(parents=True, exist_ok=True)
    summary = generate(args.folder, args.count, args.seed)
    write_manifest(args.folder, args.count, args.seed, summary)
    print(f"{args.count} files ({len(summary.awkward)} awkward, {len(summary.broken)} broken) "
          f"in {args.folder} in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
