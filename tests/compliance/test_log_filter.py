"""compliance.log_filter: a real logging call, through real handlers, comes out clean."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from compliance import _identifiers
from compliance.fail_closed import LOG_NOTICE, WITHHELD
from compliance.log_filter import PhiRedactingFilter, install
from tests.utils.phi import break_phi_check

PHI = ["Rupert Haskins", "02/17/1953", "219-44-7710", "00913377", "(302) 555-0144"]


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    """A private logger tree with one handler writing to a buffer; removed afterwards."""
    parent = logging.getLogger("phi-test")
    parent.setLevel(logging.DEBUG)
    parent.propagate = False
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    parent.addHandler(handler)
    yield parent
    parent.removeHandler(handler)
    parent.filters.clear()
    parent.propagate = True


def output(logger: logging.Logger) -> str:
    stream = logger.handlers[0].stream  # type: ignore[attr-defined]
    assert isinstance(stream, io.StringIO)
    return stream.getvalue()


def test_message_args_are_redacted_before_the_handler_formats(logger: logging.Logger) -> None:
    install(logger)
    logger.info("Chart opened for patient %s, DOB %s", "Rupert Haskins", "02/17/1953")
    assert output(logger) == "INFO phi-test Chart opened for patient [NAME], DOB [DATE]\n"


def test_records_from_child_loggers_are_redacted(logger: logging.Logger) -> None:
    install(logger)
    logging.getLogger("phi-test.agents.caretrack").warning("MRN %s stalled", "00913377")
    assert output(logger) == "WARNING phi-test.agents.caretrack MRN [MRN] stalled\n"


def test_exception_text_is_redacted(logger: logging.Logger) -> None:
    install(logger)
    try:
        raise ValueError("SSN 219-44-7710 does not match patient Rupert Haskins")
    except ValueError:
        logger.exception("lookup failed, call back (302) 555-0144")
    text = output(logger)
    assert "Traceback (most recent call last)" in text
    assert "ValueError: SSN [SSN] does not match patient [NAME]" in text
    assert "call back [PHONE]" in text
    assert not [phi for phi in PHI if phi in text]


def test_extra_fields_are_redacted(logger: logging.Logger) -> None:
    install(logger)
    logger.handlers[0].setFormatter(logging.Formatter("%(message)s|%(contact)s|%(dob)s"))
    logger.info("intake", extra={"contact": "email r.h@example.com", "dob": "02/17/1953"})
    assert output(logger) == "intake|email [EMAIL]|[DATE]\n"


def test_every_handler_sees_the_redacted_record(logger: logging.Logger) -> None:
    second = logging.StreamHandler(io.StringIO())
    logger.addHandler(second)
    try:
        install(logger)
        logger.error("patient %s", "Rupert Haskins")
        assert second.stream.getvalue() == "patient [NAME]\n"
        assert output(logger).endswith("patient [NAME]\n")
    finally:
        logger.removeHandler(second)


def test_args_that_do_not_fit_the_format_are_withheld(
    logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    install(logger)
    logger.info("patient %s %s", "Rupert Haskins")  # one arg short
    captured = capsys.readouterr()
    assert "Rupert Haskins" not in output(logger) + captured.err
    assert "args withheld" in output(logger)


def test_install_is_idempotent(logger: logging.Logger) -> None:
    first = install(logger)
    assert install(logger) is first
    handler_filters = logger.handlers[0].filters
    assert sum(isinstance(f, PhiRedactingFilter) for f in handler_filters) == 1


def test_install_defaults_to_the_root_handlers(caplog: pytest.LogCaptureFixture) -> None:
    root = logging.getLogger()
    try:
        install()
        logging.getLogger("clinisight.serve").warning("member ID %s", "BQX220019934")
        assert caplog.messages == ["member ID [MEMBER_ID]"]
        assert "BQX220019934" not in caplog.text
    finally:
        for filterer in (root, *root.handlers):
            for f in [f for f in filterer.filters if isinstance(f, PhiRedactingFilter)]:
                filterer.removeFilter(f)


def test_a_record_whose_phi_check_fails_is_emitted_as_a_notice(
    logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(logger)
    broken = break_phi_check(monkeypatch)
    logger.warning("Chart opened for patient %s", "Rupert Haskins", stack_info=True)
    assert broken.checked
    assert output(logger) == f"WARNING phi-test {LOG_NOTICE}\n[stack withheld: PHI check failed]\n"


def test_a_check_failing_after_the_message_passed_withholds_the_whole_record(
    logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(logger)
    logger.handlers[0].setFormatter(logging.Formatter("%(message)s|%(contact)s"))
    broken = break_phi_check(monkeypatch, only_on="r.h@example.com")
    logger.info("intake for patient %s", "Rupert Haskins", extra={"contact": "r.h@example.com"})
    assert broken.checked == ["r.h@example.com"]  # the message itself was checked and passed
    assert output(logger) == f"{LOG_NOTICE}|{WITHHELD}\n"


def test_the_filter_never_raises_whatever_the_detector_raises(
    logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    def layer(text: str) -> object:
        raise RuntimeError("a detector bug")

    monkeypatch.setattr(_identifiers, "detect", layer)  # untranslated, or translated: the same
    install(logger)
    try:
        raise ValueError("SSN 219-44-7710")
    except ValueError:
        logger.exception("lookup failed for %s", "Rupert Haskins")
    text = output(logger)
    assert text == f"ERROR phi-test {LOG_NOTICE}\n[traceback withheld: PHI check failed]\n"
