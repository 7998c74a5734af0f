"""Boxes, the geometry every detector shares: intersection over union and non-max suppression, as the course's YOLO
assignment defines them. A box is (x0, y0, x1, y1) with x0 ≤ x1 and y0 ≤ y1, in pixels; a box of zero area overlaps
nothing (its IoU with any box is 0)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.engine.text import counted

KEPT, LOW_SCORE, SUPPRESSED = "kept", "below the score threshold", "suppressed"


def areas(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def iou(box: Sequence[float], boxes: np.ndarray) -> np.ndarray:
    """The IoU of `box` with each of `boxes`: the area they share over the area they cover together."""
    box = np.asarray(box, dtype=float)
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    width = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    height = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    shared = width * height
    union = areas(box)[0] + areas(boxes) - shared
    return np.divide(shared, union, out=np.zeros_like(shared), where=union > 0)


def intersection(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float, float] | None:
    """The box two boxes share, None when they share no area."""
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


@dataclass(frozen=True)
class Overlap:
    """Two boxes' IoU with its parts, for drawing: the box they share (None if none), its area, the area covered."""

    box: tuple[float, float, float, float] | None
    shared: float
    covered: float

    @property
    def iou(self) -> float:
        return self.shared / self.covered if self.covered > 0 else 0.0


def overlap(a: Sequence[float], b: Sequence[float]) -> Overlap:
    shared_box = intersection(a, b)
    shared = float(areas(np.array(shared_box))[0]) if shared_box else 0.0
    return Overlap(shared_box, shared, float(areas(np.array(a))[0] + areas(np.array(b))[0] - shared))


@dataclass(frozen=True)
class Fate:
    """What non-max suppression did with one box: kept, below the score threshold, or suppressed by a kept box
    (`by`, an index into the boxes) that it overlapped by `overlap`."""

    outcome: str
    by: int | None = None
    overlap: float = 0.0


def non_max_suppression(
    boxes: np.ndarray, scores: Sequence[float], score_threshold: float, iou_threshold: float
) -> tuple[list[int], list[Fate]]:
    """Greedy NMS: drop boxes scoring under `score_threshold`; then, best score first (ties: the earlier box), keep a
    box and suppress every remaining box whose IoU with it exceeds `iou_threshold`. Returns the kept indices, best
    first, and each box's fate."""
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    scores = np.asarray(scores, dtype=float)
    fates: list[Fate | None] = [None] * len(boxes)
    order = [int(i) for i in np.argsort(-scores, kind="stable")]
    for i in order:
        if scores[i] < score_threshold:
            fates[i] = Fate(LOW_SCORE)
    remaining = [i for i in order if fates[i] is None]
    kept = []
    while remaining:
        best, remaining = remaining[0], remaining[1:]
        kept.append(best)
        fates[best] = Fate(KEPT)
        overlaps = iou(boxes[best], boxes[remaining]) if remaining else np.zeros(0)
        for index, overlap in zip(remaining, overlaps):
            if overlap > iou_threshold:
                fates[index] = Fate(SUPPRESSED, best, float(overlap))
        remaining = [i for i in remaining if fates[i] is None]
    return kept, fates


def match(
    found: np.ndarray,
    truth: np.ndarray,
    threshold: float = 0.5,
    found_classes: Sequence[int] | None = None,
    true_classes: Sequence[int] | None = None,
) -> tuple[int, int, int]:
    """(true positives, false positives, missed): each found box, best first, is right if its IoU with a true box
    not yet matched (of the same class, where classes are given) is at least `threshold`."""
    found = np.asarray(found, dtype=float).reshape(-1, 4)
    truth = np.asarray(truth, dtype=float).reshape(-1, 4)
    unmatched = list(range(len(truth)))
    right = 0
    for index, box in enumerate(found):
        candidates = [t for t in unmatched if found_classes is None or true_classes[t] == found_classes[index]]
        if not candidates:
            continue
        overlaps = iou(box, truth[candidates])
        best = int(np.argmax(overlaps))
        if overlaps[best] >= threshold:
            right += 1
            unmatched.remove(candidates[best])
    return right, len(found) - right, len(unmatched)


def demo_candidates(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate boxes as a detector proposes them around three objects on a 100×100 picture: (true boxes, candidates,
    scores). Several candidates per object, jittered and scored lower the further they are off."""
    rng = np.random.default_rng(seed)
    truth = np.array([[10, 12, 42, 48], [50, 20, 88, 56], [30, 60, 70, 92]], dtype=float)
    candidates, scores = [], []
    for box in truth:
        size = box[2:] - box[:2]
        for _ in range(5):
            shift = rng.normal(scale=0.15, size=4) * np.tile(size, 2)
            candidate = np.clip(box + shift, 0, 100)
            candidates.append(candidate)
            scores.append(float(np.clip(0.95 * iou(box, candidate)[0] + rng.normal(scale=0.05), 0.05, 0.99)))
    candidates.append(np.array([70, 70, 95, 95.0]))
    scores.append(0.3)  # a stray proposal on background
    return truth, np.round(np.array(candidates), 1), np.round(np.array(scores), 2)


def fate_text(fate: Fate) -> str:
    if fate.outcome == SUPPRESSED:
        return f"suppressed by box {fate.by + 1} (IoU {fate.overlap:.2f})"
    return fate.outcome


def nms_findings(
    truth: np.ndarray, boxes: np.ndarray, kept: Sequence[int], fates: Sequence[Fate], score: float, overlap: float
) -> list[str]:
    """What the thresholds did, counted, and the kept boxes scored against the true ones at IoU 0.5."""
    low = sum(f.outcome == LOW_SCORE for f in fates)
    suppressed = sum(f.outcome == SUPPRESSED for f in fates)
    right, wrong, missed = match(np.asarray(boxes)[list(kept)], truth)
    notes = [
        f"Of {counted(len(fates), 'proposal')}: {low} dropped first for scoring under {score:.2f}; {suppressed} "
        f"suppressed for overlapping a better box by more than IoU {overlap:.2f}; **{len(kept)} kept**.",
        f"Against the {counted(len(truth), 'true box')} (IoU ≥ 0.5 counts as found): {right} found, "
        f"{counted(wrong, 'kept box')} that found nothing new, {missed} missed.",
    ]
    if wrong and overlap >= 0.5:
        notes.append("Duplicates survive when the IoU threshold is high: lower it and they are suppressed.")
    if missed and right < len(truth):
        notes.append("A true box was missed: a threshold removed every proposal for it. Lower the score threshold.")
    return notes
