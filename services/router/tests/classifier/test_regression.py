"""A worse model fails here: fit on the training data minus the fixed development hold-out
(services/router/data/dev_holdout.csv, a stratified 15% written by
`python -m router.classifier.crossval --write-dev-split`) and score the hold-out.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from router.classifier.data import (
    BANKING77_CSV,
    CRYPTO_DEV_CSV,
    DEV_HOLDOUT_CSV,
    LONG_TEXTS_DEV_CSV,
    MULTILINGUAL_DEV_CSV,
    Example,
    read_examples,
    without,
)
from router.classifier.metrics import accuracy, calibration
from router.classifier.model import fit
from router.classifier.routing_eval import routing_report
from router.language import LanguageDetector
from router.policy import shipped_policy

pytestmark = pytest.mark.unit

# Measured on this hold-out (MODEL_CARD.md): team 0.9673, intent 0.9114, ECE 0.0146. The
# floors sit half a point to a point lower: noise-proof, yet a real regression (e.g. losing the
# embedding head, 95.9% team) fails.
TEAM_ACCURACY_FLOOR = 0.962
BANKING77_TEAM_ACCURACY_FLOOR = 0.962
INTENT_ACCURACY_FLOOR = 0.903
ECE_CEILING = 0.04
# The hand-written sets (never trained on), routed by the whole policy without a pick.
CRYPTO_TEAM_ACCURACY_FLOOR = 0.86  # measured 0.925 (120 texts: one text is 0.8 points)
LONG_TEXTS_RIGHT_TEAM_FLOOR = 0.83  # measured 0.917 (22 of 24)
MULTILINGUAL_RIGHT_TEAM_FLOOR = 0.72  # measured 0.802 (77 of 96; the rest to triage)


# A whole fit with the sentence encoder: about 60 s on 2 idle cores, more on a busy machine.
@pytest.mark.timeout(900)
def test_holdout_scores_stay_above_their_floors(all_examples: list[Example]) -> None:
    holdout = read_examples(DEV_HOLDOUT_CSV)
    train = without(all_examples, holdout)
    assert len(train) == len(all_examples) - len(holdout)

    model = fit(train, n_jobs=2)
    predictions = model.predict([e.text for e in holdout])
    truth = [e.team for e in holdout]
    predicted = [p.team for p in predictions]
    banking = [i for i, e in enumerate(holdout) if e.source == BANKING77_CSV.stem]
    team = accuracy(truth, predicted)
    banking_team = accuracy([truth[i] for i in banking], [predicted[i] for i in banking])
    intent = accuracy([e.intent for e in holdout], [p.intent for p in predictions])
    correct = [p == t for p, t in zip(predicted, truth, strict=True)]
    ece = calibration([p.confidence for p in predictions], correct)["ece"]
    print(f"team {team:.4f} banking77 {banking_team:.4f} intent {intent:.4f} ece {ece:.4f}")
    assert team >= TEAM_ACCURACY_FLOOR
    assert banking_team >= BANKING77_TEAM_ACCURACY_FLOOR
    assert intent >= INTENT_ACCURACY_FLOOR
    assert ece <= ECE_CEILING

    policy = shipped_policy()
    detector = LanguageDetector()

    def routed(path: Path) -> dict[str, float]:
        rows = read_examples(path)
        found = model.predict([e.text for e in rows])
        report = routing_report(rows, found, policy, detector=detector, wrong=None, seed=7)
        shares: dict[str, float] = report["without_pick"]
        return shares

    crypto, long_texts = routed(CRYPTO_DEV_CSV), routed(LONG_TEXTS_DEV_CSV)
    multilingual = routed(MULTILINGUAL_DEV_CSV)
    print(f"crypto {crypto} long {long_texts} multilingual {multilingual}")
    assert crypto["right_team"] >= CRYPTO_TEAM_ACCURACY_FLOOR
    assert long_texts["right_team"] >= LONG_TEXTS_RIGHT_TEAM_FLOOR
    assert multilingual["right_team"] >= MULTILINGUAL_RIGHT_TEAM_FLOOR
    assert multilingual["wrong_team"] == 0.0  # never a confident wrong team
