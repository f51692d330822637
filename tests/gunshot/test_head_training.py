"""Fitting the decision head: the street's tens of thousands of impulses must not drown the clips'
few hard negatives, and the threshold lets through no more false alarms a day than asked for."""

from __future__ import annotations

import numpy as np
from train import balanced_weights, validation_threshold

from impetus.edge_agent.audio.head import HEAD_CLASSES, GunshotHead
from impetus.edge_agent.audio.impulse import SHAPE_FEATURES

WIDTH = len(HEAD_CLASSES) + len(SHAPE_FEATURES)


def head_scoring_the_first_feature() -> GunshotHead:
    """A logistic head whose logit is the first feature, so a test sets each score directly."""
    weights = np.zeros((WIDTH, 1))
    weights[0, 0] = 1.0
    layers = ((weights, np.zeros(1)),)
    return GunshotHead(HEAD_CLASSES, SHAPE_FEATURES, np.zeros(WIDTH), np.ones(WIDTH), layers, 0.5, 0.1)


def rows(logits: list[float], label: int, kind: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    x = np.zeros((len(logits), WIDTH))
    x[:, 0] = logits
    return x, np.full(len(logits), label), [kind] * len(logits)


def test_shots_weigh_half_and_the_street_its_share_of_the_negatives_however_many_it_has() -> None:
    y = np.array([1] * 10 + [0] * 5 + [0] * 1000)
    street = np.array([False] * 15 + [True] * 1000)
    weights = balanced_weights(y, street, street_share=0.8)
    assert np.isclose(weights[:10].sum(), 0.5)
    assert np.isclose(weights[10:15].sum(), 0.1) and np.isclose(weights[15:].sum(), 0.4)
    assert np.isclose(balanced_weights(y[:15])[10:].sum(), 0.5), "without a street, negatives weigh half"


def test_the_threshold_lets_through_at_most_the_false_alarms_a_day_it_was_given() -> None:
    head = head_scoring_the_first_feature()
    street_logits = list(np.linspace(-6.0, 5.0, 2000))
    x_clip, y_clip, k_clip = rows(list(np.linspace(-6.0, 0.0, 100)), 0, "door_slam")
    x_street, y_street, k_street = rows(street_logits, 0, "street")
    validation = (np.vstack([x_clip, x_street]), np.concatenate([y_clip, y_street]), k_clip + k_street)
    threshold = validation_threshold(head, validation, 0.01, 48, 1.0)
    scores = 0.5 + 0.5 * np.tanh(0.5 * np.array(street_logits))
    assert int(np.sum(scores >= threshold)) == 2, "48 h at 1 a day allows two street impulses"
    clip_scores = 0.5 + 0.5 * np.tanh(0.5 * x_clip[:, 0])
    assert int(np.sum(clip_scores >= threshold)) <= 1, "and at most 1 % of the clips' negatives"
