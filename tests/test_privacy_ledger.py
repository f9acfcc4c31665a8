"""The privacy ledger: zCDP accounting, the (epsilon, delta) conversion, and refusing to overspend."""

import math

import pytest

from perpetuum.errors import ParameterError
from perpetuum.privacy import PrivacyBudgetError, PrivacyLedger, epsilon_from_rho, rho_from_epsilon


def test_conversion_is_tighter_than_the_simple_bound_and_inverts():
    rho, delta = 0.05, 1e-6
    simple = rho + 2 * math.sqrt(rho * math.log(1 / delta))
    epsilon = epsilon_from_rho(rho, delta)
    assert 0 < epsilon < simple
    assert rho_from_epsilon(epsilon, delta) == pytest.approx(rho, rel=1e-6)


def test_conversion_matches_opendp():
    dp = pytest.importorskip("opendp.prelude")
    dp.enable_features("contrib")
    measurement = dp.m.make_gaussian(dp.atom_domain(T=float, nan=False), dp.absolute_distance(T=float), scale=4.0)
    rho = measurement.map(1.0)
    profile = dp.c.make_zCDP_to_approxDP(measurement).map(1.0)
    assert epsilon_from_rho(rho, 1e-6) == pytest.approx(profile.epsilon(1e-6), rel=1e-3)


def test_epsilon_and_delta_are_required_with_a_clear_message():
    with pytest.raises(ParameterError, match="epsilon is required"):
        PrivacyLedger(None, 1e-6)
    with pytest.raises(ParameterError, match="delta is required"):
        PrivacyLedger(1.0, None)
    with pytest.raises(ParameterError, match="delta must lie strictly between 0 and 1"):
        PrivacyLedger(1.0, 0.0)


def test_charges_compose_by_adding_rho_and_report_by_stage():
    ledger = PrivacyLedger(epsilon=3.0, delta=1e-6)
    budget_rho = rho_from_epsilon(3.0, 1e-6)
    ledger.charge("preprocessing", "bounds of age", budget_rho * 0.1)
    ledger.charge("selection", "AIM selection", budget_rho * 0.2)
    ledger.charge("measurement", "marginals", budget_rho * 0.7)
    assert ledger.epsilon_spent == pytest.approx(3.0, rel=1e-6)
    stages = ledger.by_stage()
    assert stages["measurement"]["epsilon_share"] == pytest.approx(2.1, rel=1e-6)
    assert sum(stage["epsilon_share"] for stage in stages.values()) == pytest.approx(3.0, rel=1e-6)
    restored = PrivacyLedger.from_dict(ledger.to_dict())
    assert restored.epsilon_spent == pytest.approx(ledger.epsilon_spent)
    assert "| **selection** | all |" in ledger.to_markdown()


def test_a_charge_over_the_budget_is_refused_and_not_recorded():
    ledger = PrivacyLedger(epsilon=1.0, delta=1e-6)
    ledger.charge("measurement", "first release", rho_from_epsilon(1.0, 1e-6) * 0.8)
    with pytest.raises(PrivacyBudgetError, match="over the budget's epsilon 1"):
        ledger.charge("measurement", "second release", rho_from_epsilon(1.0, 1e-6) * 0.3)
    assert len(ledger.entries) == 1


def test_direct_delta_spending_shrinks_what_rho_is_left():
    ledger = PrivacyLedger(epsilon=1.0, delta=1e-6)
    assert ledger.rho_left(direct_delta=5e-7) < ledger.rho_left()
    with pytest.raises(PrivacyBudgetError, match="delta"):
        ledger.charge("measurement", "thresholded counts", 0.0, delta=2e-6)
    ledger.charge("measurement", "thresholded counts", 0.01, delta=5e-7)
    with pytest.raises(PrivacyBudgetError, match="epsilon"):
        ledger.charge("measurement", "more thresholded counts", 0.0, delta=5e-7)  # no delta left for the rho


def test_stage_names_are_checked():
    with pytest.raises(ParameterError, match="stage must be one of"):
        PrivacyLedger(1.0, 1e-6).charge("training", "x", 0.01)
