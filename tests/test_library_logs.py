"""coursekit.library_logs: PyMC's log said in short, ArviZ's import notice ignored."""

import logging
import warnings

import pytest

from coursekit import library_logs


def test_pymc_logs_says_what_was_sampled_and_every_warning_on_stdout(capsys):
    logger = logging.getLogger("pymc")
    before = logger.handlers[:], logger.propagate, logger.level
    with library_logs.pymc_logs("NUTS") as records:
        logger.info("Initializing NUTS using jitter+adapt_diag...")
        logger.info("Sampling 2 chains for 150 tune and 150 draw iterations took 1 seconds.")
        logger.warning("The rhat statistic is larger than 1.01 for some parameters.")
        logger.info("Finished [100%]: Average Loss = 7.2773")
    out, err = capsys.readouterr()
    assert len(records) == 4 and err == ""
    assert out.splitlines() == [
        "NUTS: Sampling 2 chains for 150 tune and 150 draw iterations took 1 seconds.",
        "PyMC warns: The rhat statistic is larger than 1.01 for some parameters.",
        "NUTS: Finished [100%]: Average Loss = 7.2773",
    ]
    assert (logger.handlers, logger.propagate, logger.level) == before


def test_numpy_warnings_inside_pymc_are_said_others_pass_through(capsys):
    hmc = "/venv/lib/python3.11/site-packages/pymc/step_methods/hmc/quadpotential.py"
    with pytest.warns(UserWarning, match="the learner's own"):
        with library_logs.pymc_logs("NUTS"):
            warnings.warn_explicit("overflow encountered in dot", RuntimeWarning, hmc, 316)
            warnings.warn_explicit("overflow encountered in dot", RuntimeWarning, hmc, 316)
            warnings.warn("the learner's own", UserWarning, stacklevel=1)
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "NUTS: NumPy warned inside PyMC: overflow encountered in dot" + library_logs.HMC_OVERFLOW
    ]
    assert "site-packages" not in out + err


def test_pymc_logs_restores_the_logger_when_sampling_fails():
    logger = logging.getLogger("pymc")
    before = logger.handlers[:], logger.propagate, logger.level
    with pytest.raises(RuntimeError), library_logs.pymc_logs():
        raise RuntimeError("the sampler broke")
    assert (logger.handlers, logger.propagate, logger.level) == before


def test_only_arvizs_refactor_notice_is_ignored():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        library_logs.quiet_arviz_import_notice()
        warnings.warn(
            "\nArviZ is undergoing a major refactor to improve flexibility",
            FutureWarning,
            stacklevel=1,
        )
        warnings.warn("this API will change", FutureWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["this API will change"]
