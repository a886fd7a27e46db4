"""The seed files as plain data, one mapping per card and per referral: what the editor
starts from, what `vraagbaak knowledge export` writes back, and what an import compares."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from knowledge.base import CASES, DATA_DIR, Overlay, _load_yaml
from knowledge.topics import LANGS

EDITED_BATCH = "kennisbank"  # where export puts cards and referrals made in the dashboard


@dataclass
class SeedItems:
    """Cards (with their example questions) and referrals by id, in file order."""

    cards: dict[str, dict[str, Any]]
    referrals: dict[str, dict[str, Any]]
    card_files: dict[str, Path]
    referral_files: dict[str, Path]


def _snippet_files(data_dir: Path) -> list[Path]:
    snippets = data_dir / "snippets"
    return sorted(snippets.glob("*.yaml")) + sorted(snippets.glob("*/*.yaml"))


def _referral_files(data_dir: Path) -> list[Path]:
    extra = data_dir / "referrals"
    return [data_dir / "referrals.yaml",
            *(sorted(extra.rglob("*.yaml")) if extra.is_dir() else ())]


def read_seed(data_dir: Path = DATA_DIR) -> SeedItems:
    """Every card and referral of a knowledge folder as its YAML mapping (cards carry an
    `examples` list per language, gathered from snippet_examples/; the practice cases in
    snippet_examples/cases/ are training data, not part of a card, and stay out)."""
    cards: dict[str, dict[str, Any]] = {}
    card_files: dict[str, Path] = {}
    for path in _snippet_files(data_dir):
        for raw in (_load_yaml(path) or {}).get("snippets") or []:
            cards[raw["id"]] = {**raw, "examples": {lang: [] for lang in LANGS}}
            card_files[raw["id"]] = path
    examples_dir = data_dir / "snippet_examples"
    for path in sorted(examples_dir.rglob("*.yaml")) if examples_dir.is_dir() else ():
        if path.parent.name == CASES:
            continue
        for sid, lists in (_load_yaml(path) or {}).items():
            if sid in cards:
                for lang in LANGS:
                    cards[sid]["examples"][lang] += list(lists.get(lang) or [])
    referrals: dict[str, dict[str, Any]] = {}
    referral_files: dict[str, Path] = {}
    for path in _referral_files(data_dir):
        for raw in (_load_yaml(path) or {}).get("referrals") or []:
            referrals[raw["id"]] = raw
            referral_files[raw["id"]] = path
    return SeedItems(cards, referrals, card_files, referral_files)


def changed(seed: SeedItems, other: SeedItems) -> Overlay:
    """What `other` changes over `seed`: new or different cards and referrals, and cards
    that `other` no longer has but lists under some card's `replaces` (retired)."""
    cards = {sid: raw for sid, raw in other.cards.items() if seed.cards.get(sid) != raw}
    for sid, raw in other.cards.items():
        for old in raw.get("replaces") or ():
            if old in seed.cards and old not in other.cards:
                cards[old] = {"id": old, "retired": True, "successor": sid}
    referrals = {rid: raw for rid, raw in other.referrals.items()
                 if seed.referrals.get(rid) != raw}
    return Overlay(cards, referrals)


def _dump(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100),
                    encoding="utf-8")


def export(target: Path, overlay: Overlay, data_dir: Path = DATA_DIR) -> list[Path]:
    """Write the seed folder with the published edits applied to `target`, in the same
    layout (edited entries replaced where they live, new ones in a `kennisbank` batch);
    the written files, which `load_knowledge(target)` loads to the same knowledge."""
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target} is not empty")
    shutil.copytree(data_dir, target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    seed = read_seed(data_dir)
    written: set[Path] = set()
    docs: dict[Path, Any] = {}

    def doc(path: Path) -> Any:
        if path not in docs:
            docs[path] = _load_yaml(path) if path.exists() else {}
        return docs[path]

    def moved(path: Path) -> Path:
        return target / path.relative_to(data_dir)

    retired: dict[str, str] = {}
    for sid, raw in overlay.snippets.items():
        if raw.get("retired"):
            retired[sid] = str(raw["successor"])
            continue
        card = {k: copy.deepcopy(v) for k, v in raw.items() if k != "examples"}
        if sid in seed.card_files:
            items = doc(moved(seed.card_files[sid]))["snippets"]
            items[[i["id"] for i in items].index(sid)] = card
            written.add(moved(seed.card_files[sid]))
        else:
            path = target / "snippets" / EDITED_BATCH / f"{card['topics'][0]}.yaml"
            doc(path).setdefault("snippets", []).append(card)
            written.add(path)
    for sid, successor in retired.items():
        if sid in seed.card_files:
            path = moved(seed.card_files[sid])
            doc(path)["snippets"] = [i for i in doc(path)["snippets"] if i["id"] != sid]
            written.add(path)
        # The successor now answers for the retired id (and everything it had replaced).
        gone = seed.cards.get(sid, {})
        for path, data in [(p, doc(p)) for p in _snippet_target_files(target, docs)]:
            for item in data.get("snippets") or []:
                if item["id"] == successor:
                    olds = item.setdefault("replaces", [])
                    olds += [o for o in (sid, *(gone.get("replaces") or ())) if o not in olds]
                    written.add(path)
    _export_examples(target, overlay, seed, data_dir, doc, written)
    for rid, raw in overlay.referrals.items():
        path = (moved(seed.referral_files[rid]) if rid in seed.referral_files
                else target / "referrals" / f"{EDITED_BATCH}.yaml")
        items = doc(path).setdefault("referrals", [])
        ids = [i["id"] for i in items]
        if rid in ids:
            items[ids.index(rid)] = dict(raw)
        else:
            items.append(dict(raw))
        written.add(path)
    for path in sorted(written):
        _dump(path, docs[path])
    return sorted(written)


def _snippet_target_files(target: Path, docs: dict[Path, Any]) -> list[Path]:
    files = _snippet_files(target)
    return files + [p for p in docs if p not in files and "snippets" in p.parts]


def _export_examples(target: Path, overlay: Overlay, seed: SeedItems, data_dir: Path,
                     doc: Any, written: set[Path]) -> None:
    """An edited card's example questions replace its seed lists: taken out of the seed's
    files, written under snippet_examples/kennisbank/<topic>.yaml (its practice cases stay)."""
    touched = set(overlay.snippets)
    retired = {sid for sid, raw in overlay.snippets.items() if raw.get("retired")}
    examples_dir = target / "snippet_examples"
    for path in sorted(examples_dir.rglob("*.yaml")):
        # A retired card's practice cases go with it (as when the edits are loaded live).
        dropped = retired if path.parent.name == CASES else touched
        data = doc(path)
        if isinstance(data, dict) and dropped & set(data):
            for sid in dropped & set(data):
                del data[sid]
            written.add(path)
    for sid, raw in overlay.snippets.items():
        if raw.get("retired"):
            continue
        lists = raw.get("examples") or {}
        if any(lists.get(lang) for lang in LANGS):
            path = examples_dir / EDITED_BATCH / f"{raw['topics'][0]}.yaml"
            doc(path)[sid] = {lang: list(lists.get(lang) or []) for lang in LANGS}
            written.add(path)


def published_items(seed: SeedItems, overlay: Overlay) -> SeedItems:
    """The seed with the published edits, as plain data (retired cards left out)."""
    cards = dict(seed.cards)
    for sid, raw in overlay.snippets.items():
        if raw.get("retired"):
            cards.pop(sid, None)
        else:
            cards[sid] = dict(raw)
    referrals = {**seed.referrals, **{rid: dict(raw) for rid, raw in overlay.referrals.items()}}
    return SeedItems(cards, referrals, seed.card_files, seed.referral_files)


def as_mapping(value: Mapping[str, Any]) -> dict[str, Any]:
    """A deep, plain copy (JSON-safe) of a card or referral."""
    return copy.deepcopy(dict(value))
