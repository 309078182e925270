"""Deterministic synthetic corpus in the exact schema of the Kaggle "IMDB Spoiler Dataset".

Every movie gets characters, a premise and two to four twist events. Spoiler reviews
reveal some of those events in varied wording; the others talk about the same movie
(characters, acting, craft, teasers) without revealing them, so the two classes share
most of their vocabulary. The real dataset's quirks are reproduced on purpose so the
pipeline meets them: details ids ending in "/", reviewed movies without a details row,
and repeated review texts of which some disagree on the label.

Run it as `python -m spoiler_assets.data.synthetic --out DIR`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spoiler_assets.data import synthetic_vocabulary as vocab
from spoiler_assets.data.formats import DETAILS_FILE, MONTH_NAMES, REVIEWS_FILE, SYNTHETIC_MARKER
from spoiler_assets.seed import SEED

# Shares of the real-data quirks (see shared/data/README.md for the real figures).
_SLASH_ID_SHARE = 0.03
_NO_DETAILS_SHARE = 0.015
_DUPLICATE_SHARE = 0.001
_CONFLICT_SHARE = 0.21  # 118 of 564 repeated texts disagree on the label
_EMPTY_SYNOPSIS_SHARE = 0.08
_CHUNK = 10_000


@dataclass(frozen=True)
class CorpusSpec:
    """What to generate. The same spec always yields byte-identical files."""

    n_reviews: int = 6000
    n_movies: int = 120
    n_users: int | None = None  # None: about n_reviews / 2.2, as in the real data
    seed: int = SEED
    first_month: str = "2014-01"
    last_month: str = "2017-12"
    spoiler_share: float = 0.26
    label_noise: float = 0.03
    vocabulary_shift: float = 0.0  # share of reviews worded with the alternative vocabulary


@dataclass(frozen=True)
class SyntheticCorpus:
    """Where a generated corpus lies and what it holds."""

    directory: Path
    reviews_path: Path
    details_path: Path
    n_reviews: int
    n_movies: int
    n_spoilers: int


class _Draws:
    """Uniform numbers drawn from numpy in blocks and consumed one by one (fast, reproducible)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._buf: list[float] = []
        self._i = 0

    def u(self) -> float:
        if self._i >= len(self._buf):
            self._buf, self._i = self._rng.random(1 << 16).tolist(), 0
        self._i += 1
        return self._buf[self._i - 1]

    def below(self, n: int) -> int:
        return int(self.u() * n)

    def pick(self, seq: Sequence[str]) -> str:
        return seq[int(self.u() * len(seq))]


class _Slots(dict[str, str]):
    """Template slots; a missing lexicon slot draws a fresh word at each use."""

    def __init__(self, draws: _Draws, lexicon: dict[str, Sequence[str]]) -> None:
        super().__init__()
        self._draws, self._lexicon = draws, lexicon

    def __missing__(self, key: str) -> str:
        return self._draws.pick(self._lexicon[key])


@dataclass
class _Movie:
    movie_id: str
    title: str
    genres: list[str]
    duration: str
    rating: float
    release_date: str
    names: list[str]  # first names, as reviewers write them
    roles: list[str]  # "detective", as in "the detective"
    actors: list[str]
    place: tuple[str, str]
    premises: list[str]
    events: list[tuple[list[str], list[str], list[str]]]  # per twist: explicit, subtle, ambiguous
    plot_summary: str
    plot_synopsis: str


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _month_start(month: str) -> dt.date:
    return dt.datetime.strptime(month, "%Y-%m").date()


def _build_movies(spec: CorpusSpec, rng: np.random.Generator) -> list[_Movie]:
    d = _Draws(rng)
    ids = rng.choice(9_900_000, spec.n_movies, replace=False) + 10_000
    ratings = np.clip(rng.normal(6.9, 0.9, spec.n_movies), 2.5, 9.4).round(1).tolist()
    minutes = np.clip(rng.normal(112, 22, spec.n_movies), 45, 210).astype(int).tolist()
    first_day = _month_start(spec.first_month).toordinal()
    days_before = np.clip(rng.gamma(1.5, 2500, spec.n_movies), 30, 25_000).astype(int).tolist()
    movies: list[_Movie] = []
    seen: dict[str, int] = {}
    for k in range(spec.n_movies):
        title = f"The {d.pick(vocab.TITLE_ADJ)} {d.pick(vocab.TITLE_NOUN)}"
        seen[title] = seen.get(title, 0) + 1
        title = title if seen[title] == 1 else f"{title} {seen[title]}"  # a sequel
        genres = sorted({d.pick(vocab.GENRES) for _ in range(1 + d.below(3))})
        n_chars = 3 + d.below(3)
        names: list[str] = []
        while len(names) < n_chars:
            name = d.pick(vocab.FIRST)
            names += [] if name in names else [name]
        full = [f"{n} {d.pick(vocab.LAST)}" for n in names]
        actors = [f"{d.pick(vocab.ACTOR_FIRST)} {d.pick(vocab.LAST)}" for _ in names]
        roles, goals = [d.pick(vocab.ROLES) for _ in names], [d.pick(vocab.GOALS) for _ in names]
        place = vocab.PLACES[d.below(len(vocab.PLACES))]
        premises = [
            t.format(
                a=names[i],
                b=names[(i + 1) % n_chars],
                role=roles[i],
                goal=goals[i],
                actor=actors[i],
                place=place[0],
            )
            for t in vocab.PREMISES
            for i in range(2)
        ]
        kinds = rng.choice(len(vocab.EVENTS), 2 + d.below(3), replace=False).tolist()
        events, story = [], []
        for kind in kinds:
            i = d.below(n_chars)
            j = (i + 1 + d.below(n_chars - 1)) % n_chars
            synopsis, explicit, subtle = vocab.EVENTS[kind]
            fill = {"a": names[i], "b": names[j], "A": full[i], "B": full[j], "p": place[1]}
            # Reviewers name a character or call them by their role ("the detective dies").
            by_role = fill | {"a": "the " + roles[i].split(" ", 1)[1]}
            events.append(
                (
                    [t.format(**fill) for t in explicit] + [t.format(**by_role) for t in explicit[:4]],
                    [t.format(**fill) for t in subtle],
                    [t.format(**fill) for t in vocab.AMBIGUOUS],
                )
            )
            beat = d.pick(vocab.BEATS).format(a=names[j], b=names[i], p=place[1])
            story += [beat, synopsis.format(**fill)]
        intro = [f"{full[i]} ({actors[i]}), {roles[i]}, {goals[i]}." for i in range(n_chars)]
        summary = f"{full[0]}, {roles[0]}, {goals[0]} in {place[0]}. On the way, {names[0]} meets {full[1]}."
        if d.u() < 0.3:
            summary += f"                Written by\n{d.pick(vocab.ACTOR_FIRST)}-{d.pick(vocab.LAST)}"
        synopsis_text = "" if d.u() < _EMPTY_SYNOPSIS_SHARE else " ".join(intro + story)
        h, m = divmod(minutes[k], 60)
        movies.append(
            _Movie(
                movie_id=f"tt{int(ids[k]):07d}",
                title=title,
                genres=genres,
                duration=f"{h}h {m}min".replace(" 0min", "") if h else f"{m}min",
                rating=float(ratings[k]),
                release_date=dt.date.fromordinal(first_day - days_before[k]).isoformat(),
                names=names,
                roles=[r.split(" ", 1)[1] for r in roles],
                actors=actors,
                place=place,
                premises=premises,
                events=events,
                plot_summary=summary,
                plot_synopsis=synopsis_text,
            )
        )
    return movies


@dataclass(frozen=True)
class _Plan:
    """Everything about the reviews except their text, as arrays (a few bytes per review)."""

    movie: np.ndarray
    user: np.ndarray
    day: np.ndarray
    rating: np.ndarray
    spoiler: np.ndarray  # what the text reveals
    label: np.ndarray  # what is published as is_spoiler (noise and conflicts included)
    shifted: np.ndarray
    sentences: np.ndarray
    copy_of: dict[int, int]  # repeated review -> earlier review whose text it repeats
    no_details: np.ndarray  # per movie
    slash_id: np.ndarray  # per movie


def _plan_reviews(spec: CorpusSpec, rng: np.random.Generator, movies: list[_Movie]) -> _Plan:
    n, n_movies = spec.n_reviews, spec.n_movies
    popularity = rng.lognormal(0.0, 1.1, n_movies)
    movie = rng.choice(n_movies, n, p=popularity / popularity.sum())
    if n >= n_movies:  # every movie gets at least one review
        movie[rng.choice(n, n_movies, replace=False)] = np.arange(n_movies)
    n_users = min(n, spec.n_users or max(1, round(n / 2.2)))
    activity = rng.lognormal(0.0, 1.6, n_users)  # heavy tail: a few users write a lot
    counts = 1 + rng.multinomial(n - n_users, activity / activity.sum())
    user_of = rng.permutation(np.repeat(np.arange(n_users), counts))
    user_ids = rng.choice(98_000_000, n_users, replace=False) + 1_000_000
    share = spec.spoiler_share
    propensity = np.clip(rng.beta(0.9, 0.9 * (1 - share) / share, n_users), 1e-3, None)
    keys = rng.exponential(size=n) / propensity[user_of]  # weighted sampling of exactly k spoilers
    spoiler = np.zeros(n, dtype=bool)
    spoiler[np.argsort(keys, kind="stable")[: round(share * n)]] = True
    label = spoiler.copy()
    label[rng.choice(n, round(spec.label_noise * n), replace=False)] ^= True
    user_bias = rng.normal(0.0, 1.0, n_users)
    movie_rating = np.array([m.rating for m in movies])
    base = movie_rating[movie] + user_bias[user_of] + rng.normal(0.0, 1.6, n)
    extreme = rng.random(n) < 0.25  # real ratings pile up at 10 and 1
    rating = np.clip(np.where(extreme, np.where(base >= 6, 10, 1), np.rint(base)), 1, 10).astype(int)
    first, last = _month_start(spec.first_month), _month_start(spec.last_month)
    n_months = (last.year - first.year) * 12 + last.month - first.month + 1
    starts = [
        dt.date(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1)
        for i in range(n_months + 1)
    ]
    growth = np.linspace(1.0, 2.0, n_months)  # the last month has twice the reviews of the first
    month = rng.choice(n_months, n, p=growth / growth.sum())
    ordinals = np.array([s.toordinal() for s in starts])
    day = ordinals[month] + (rng.random(n) * (ordinals[month + 1] - ordinals[month])).astype(int)
    shifted = rng.random(n) < spec.vocabulary_shift
    sentences = np.clip(np.rint(rng.lognormal(np.log(20.0), 0.65, n)), 2, 90).astype(int) + spoiler
    n_dups = max(2, round(_DUPLICATE_SHARE * n)) if n >= 50 else 0
    pairs = np.sort(rng.choice(n, (n_dups, 2), replace=False), axis=1)
    src, dst = pairs[:, 0], pairs[:, 1]
    for arr in (movie, rating, spoiler, label, shifted):
        arr[dst] = arr[src]
    n_conflicts = max(1, round(_CONFLICT_SHARE * n_dups)) if n_dups else 0
    label[dst[:n_conflicts]] = ~label[src[:n_conflicts]]
    no_details = np.zeros(n_movies, dtype=bool)
    slash_id = np.zeros(n_movies, dtype=bool)
    if n_movies >= 10:  # too few movies to spare one for each quirk
        reviewed = np.unique(movie)
        no_details[rng.choice(reviewed, max(1, round(_NO_DETAILS_SHARE * n_movies)), replace=False)] = True
        with_details = np.flatnonzero(~no_details)
        slash_id[rng.choice(with_details, max(1, round(_SLASH_ID_SHARE * n_movies)), replace=False)] = True
    copy_of = dict(zip(dst.tolist(), src.tolist(), strict=True))
    return _Plan(
        movie=movie,
        user=user_ids[user_of],
        day=day,
        rating=rating,
        spoiler=spoiler,
        label=label,
        shifted=shifted,
        sentences=sentences,
        copy_of=copy_of,
        no_details=no_details,
        slash_id=slash_id,
    )


def _lexicons() -> list[list[dict[str, Sequence[str]]]]:
    """Per style (standard, shifted) and sentiment (positive, negative, mixed)."""
    out = []
    for style in (0, 1):
        base: dict[str, Sequence[str]] = {key: words[style] for key, words in vocab.LEXICON.items()}
        good, bad = vocab.LEXICON["good"][style], vocab.LEXICON["bad"][style]
        out.append([base | {"op": good}, base | {"op": bad}, base | {"op": good + bad}])
    return out


def _review(
    m: _Movie,
    rating: int,
    spoiler: bool,
    style: int,
    n_sentences: int,
    lexicon: dict[str, Sequence[str]],
    d: _Draws,
) -> tuple[str, str]:
    """Compose one review text and its summary line."""
    slots = _Slots(d, lexicon)
    slots.update(
        t=m.title,
        genre=m.genres[0].lower(),
        place=m.place[0],
        p=m.place[1],
        duration=m.duration,
        r=str(rating),
    )
    n_chars = len(m.names)

    def fill(template: str) -> str:
        i = d.below(n_chars)
        j = (i + 1 + d.below(n_chars - 1)) % n_chars
        slots.update(a=m.names[i], b=m.names[j], actor=m.actors[i], who=m.roles[i])
        return template.format_map(slots)

    def framed(clauses: Sequence[str], phrases: Sequence[str], ambiguous: Sequence[str]) -> str:
        x = d.u()
        if x < 0.5:
            slots["n"] = fill(d.pick(phrases if x < 0.2 else ambiguous))
            slots["N"] = _cap(slots["n"])
            return fill(d.pick(vocab.PHRASE_FRAMES))
        slots["e"] = fill(d.pick(clauses))
        slots["E"] = _cap(slots["e"])
        return fill(d.pick(vocab.CLAUSE_FRAMES))

    body = []
    for _ in range(n_sentences):
        x = d.u()
        if x < 0.14:
            body.append(d.pick(m.premises))
        elif x < 0.48:
            body.append(fill(vocab.OPINIONS[d.below(len(vocab.OPINIONS))][style]))
        elif x < 0.78:
            body.append(fill(d.pick(vocab.FILLERS)))
        elif x < 0.86:
            body.append(fill(d.pick(vocab.TEASERS)))
        elif x < 0.96:
            body.append(framed(vocab.DECOY_CLAUSES, vocab.DECOY_PHRASES, vocab.AMBIGUOUS))
        else:
            slots["e"] = fill(d.pick(vocab.EVENTS[d.below(len(vocab.EVENTS))][1]))
            body.append(fill(d.pick(vocab.HEDGE_FRAMES)))
    if spoiler:
        n_events = min(len(m.events), 1 + (d.u() < 0.35) + (d.u() < 0.1))
        for k in _shuffled(len(m.events), d)[:n_events]:
            body.insert(d.below(len(body) + 1), framed(*m.events[k]))
    head = [fill(vocab.INTROS[d.below(len(vocab.INTROS))][style])] if d.u() < 0.85 else []
    if d.u() < (0.15 if spoiler else 0.04):
        head.insert(0, d.pick(vocab.WARNINGS if spoiler else vocab.NO_SPOILERS))
    tail = [fill(vocab.VERDICTS[d.below(len(vocab.VERDICTS))][style])] if d.u() < 0.8 else []
    parts: list[str] = []
    seen: set[str] = set()
    for sentence in head + body + tail:
        # Real reviews lost their line breaks: paragraphs often run together ("end.Next").
        joined = d.u() < 0.1
        if sentence in seen:  # small template pools: say nothing twice
            continue
        seen.add(sentence)
        parts += [sentence] if not parts else ["" if joined else " ", sentence]
    return "".join(parts), _cap(fill(d.pick(vocab.SUMMARIES)))


def _shuffled(n: int, d: _Draws) -> list[int]:
    """A random order of range(n) from the draw stream."""
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        j = d.below(i + 1)
        order[i], order[j] = order[j], order[i]
    return order


def _review_lines(spec: CorpusSpec, movies: list[_Movie], plan: _Plan, d: _Draws) -> Iterator[str]:
    lexicons = _lexicons()
    dates = {}
    for o in range(int(plan.day.min()), int(plan.day.max()) + 1):
        x = dt.date.fromordinal(o)
        dates[o] = f"{x.day} {MONTH_NAMES[x.month - 1]} {x.year}"  # %B would depend on the locale
    sources = set(plan.copy_of.values())
    kept: dict[int, str] = {}
    for start in range(0, spec.n_reviews, _CHUNK):
        chunk = slice(start, start + _CHUNK)
        rows = zip(
            plan.movie[chunk].tolist(),
            plan.user[chunk].tolist(),
            plan.day[chunk].tolist(),
            plan.rating[chunk].tolist(),
            plan.spoiler[chunk].tolist(),
            plan.label[chunk].tolist(),
            plan.shifted[chunk].tolist(),
            plan.sentences[chunk].tolist(),
            strict=True,
        )
        for i, (mi, user, day, rating, spoiler, label, shifted, n_sent) in enumerate(rows, start):
            m = movies[mi]
            lexicon = lexicons[int(shifted)][0 if rating >= 7 else 1 if rating <= 4 else 2]
            text, summary = _review(m, rating, spoiler, int(shifted), n_sent, lexicon, d)
            if i in sources:
                kept[i] = text
            if i in plan.copy_of:
                text = kept.pop(plan.copy_of[i])
            yield (
                json.dumps(
                    {
                        "review_date": dates[day],
                        "movie_id": m.movie_id,
                        "user_id": f"ur{user}",
                        "is_spoiler": label,
                        "review_text": text,
                        "rating": str(rating),
                        "review_summary": summary,
                    }
                )
                + "\n"
            )


def _details_lines(movies: list[_Movie], plan: _Plan) -> Iterator[str]:
    for k, m in enumerate(movies):
        if plan.no_details[k]:
            continue
        yield (
            json.dumps(
                {
                    "movie_id": m.movie_id + ("/" if plan.slash_id[k] else ""),
                    "plot_summary": m.plot_summary,
                    "duration": m.duration,
                    "genre": m.genres,
                    "rating": m.rating,
                    "release_date": m.release_date,
                    "plot_synopsis": m.plot_synopsis,
                }
            )
            + "\n"
        )


def _write_atomic(path: Path, lines: Iterable[str]) -> None:
    """Write next to `path` under a temporary name and rename, so a crash leaves no half file."""
    tmp = path.with_name(f".{path.name}.partial")
    try:
        with tmp.open("w", encoding="utf-8", newline="\n") as f:
            buffer: list[str] = []
            for line in lines:
                buffer.append(line)
                if len(buffer) >= _CHUNK:
                    f.writelines(buffer)
                    buffer.clear()
            f.writelines(buffer)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _validate(spec: CorpusSpec) -> None:
    if spec.n_reviews < 1 or spec.n_movies < 1 or (spec.n_users is not None and spec.n_users < 1):
        raise ValueError(f"n_reviews, n_movies and n_users must be positive: {spec}")
    shares_ok = 0 < spec.spoiler_share < 1 and 0 <= spec.label_noise < 0.5 and 0 <= spec.vocabulary_shift <= 1
    if not shares_ok:
        raise ValueError(
            f"spoiler_share must lie in (0, 1), label_noise in [0, 0.5), vocabulary_shift in [0, 1]: {spec}"
        )
    if _month_start(spec.first_month) > _month_start(spec.last_month):
        raise ValueError(f"first_month {spec.first_month} is after last_month {spec.last_month}")


def generate_corpus(out_dir: Path, spec: CorpusSpec = CorpusSpec()) -> SyntheticCorpus:
    """Generate the two dataset files and the synthetic marker in `out_dir`.

    Args:
        out_dir: folder to write to (created if missing); existing corpus files are replaced.
        spec: sizes, seed, time range, spoiler share, label noise and vocabulary shift.

    Returns:
        Paths and counts of the corpus. `n_movies` counts the movies that have reviews,
        including the few that deliberately have no details row.
    """
    _validate(spec)
    out_dir.mkdir(parents=True, exist_ok=True)
    marker = out_dir / SYNTHETIC_MARKER
    marker.unlink(missing_ok=True)  # an interrupted regeneration must not look complete
    movie_seq, plan_seq, text_seq = np.random.SeedSequence(spec.seed).spawn(3)
    movies = _build_movies(spec, np.random.default_rng(movie_seq))
    plan = _plan_reviews(spec, np.random.default_rng(plan_seq), movies)
    corpus = SyntheticCorpus(
        directory=out_dir,
        reviews_path=out_dir / REVIEWS_FILE,
        details_path=out_dir / DETAILS_FILE,
        n_reviews=spec.n_reviews,
        n_movies=int(np.unique(plan.movie).size),
        n_spoilers=int(plan.label.sum()),
    )
    _write_atomic(
        corpus.reviews_path, _review_lines(spec, movies, plan, _Draws(np.random.default_rng(text_seq)))
    )
    _write_atomic(corpus.details_path, _details_lines(movies, plan))
    note = {
        "synthetic": True,
        "seed": spec.seed,
        "n_reviews": corpus.n_reviews,
        "n_movies": corpus.n_movies,
        "generator": "spoiler_assets.data.synthetic",
        "note": "Synthetic corpus, not IMDB data",
    }
    _write_atomic(marker, [json.dumps(note, indent=2) + "\n"])
    return corpus


def main(argv: list[str] | None = None) -> int:
    """Command line: generate a synthetic corpus.

    Args:
        argv: arguments without the program name; None reads sys.argv.

    Returns:
        The exit status (0).
    """
    default = CorpusSpec()
    parser = argparse.ArgumentParser(description="Generate a SYNTHETIC corpus in the IMDB Spoiler schema.")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--reviews", dest="n_reviews", type=int, default=default.n_reviews)
    parser.add_argument("--movies", dest="n_movies", type=int, default=default.n_movies)
    parser.add_argument("--users", dest="n_users", type=int, default=default.n_users)
    parser.add_argument("--seed", type=int, default=default.seed)
    parser.add_argument("--first-month", default=default.first_month, help="YYYY-MM")
    parser.add_argument("--last-month", default=default.last_month, help="YYYY-MM")
    parser.add_argument("--spoiler-share", type=float, default=default.spoiler_share)
    parser.add_argument("--label-noise", type=float, default=default.label_noise)
    parser.add_argument("--vocabulary-shift", type=float, default=default.vocabulary_shift)
    args = vars(parser.parse_args(argv))
    out = args.pop("out")
    spec = CorpusSpec(**args)
    started = time.perf_counter()
    corpus = generate_corpus(out, spec)
    print(
        f"Wrote a SYNTHETIC corpus (not IMDB data) to {corpus.directory}: {corpus.n_reviews} reviews, "
        f"{corpus.n_spoilers} labelled spoilers, {corpus.n_movies} movies "
        f"in {time.perf_counter() - started:.1f}s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
