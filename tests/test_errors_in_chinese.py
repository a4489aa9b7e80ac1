"""A Chinese user reads the CLI's errors in Chinese (--lang zh_CN), with their codes and the same
meaning; an English user (--lang en, or LANG=C as the tests run) reads the same English as before.
The ledger's refusals too: the domain keeps their templates and fields, the CLI writes them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from domain import events as ev

from .domainkit import Desk

CLI = [sys.executable, "-m", "adapters.cli"]


def run(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "--data-dir", str(data), *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger with one contract, one asset and one ticket, and a file of commands it refuses:
    a severity the contract does not have and a time far in the future."""
    folder = tmp_path_factory.mktemp("zh")
    desk, data = Desk(), folder / "data"
    good = [desk.contract("000"), desk.asset("A1"), desk.open("T1", "A1", "2025-10-01T09:00")]
    (folder / "good.jsonl").write_text("".join(ev.encode(f).decode() + "\n" for f in good), encoding="utf-8")
    bad = [desk.open("T2", "A1", "2025-10-01T10:00", severity="catastrophic"),
           desk.open("T3", "A1", "2061-01-01T09:00")]
    (folder / "bad.jsonl").write_text("".join(ev.encode(f).decode() + "\n" for f in bad), encoding="utf-8")
    assert run(data, "import", str(folder / "good.jsonl")).returncode == 0
    return data


def test_a_data_folder_that_is_not_a_ledger(tmp_path: Path) -> None:
    zh = run(tmp_path, "--lang", "zh_CN", "log")
    assert zh.returncode == 2
    assert f"ticketledger log: TL-E010: {tmp_path} 中没有账本；请先运行 `ticketledger --data-dir {tmp_path} init`" \
        in zh.stderr
    en = run(tmp_path, "--lang", "en", "log")
    assert f"ticketledger log: TL-E010: no ledger in {tmp_path}; run `ticketledger --data-dir {tmp_path} init` " \
           "first" in en.stderr


def test_an_unknown_ticket(ledger: Path) -> None:
    zh = run(ledger, "--lang", "zh_CN", "explain", "NOPE")
    assert zh.returncode == 2 and zh.stderr.strip() == "ticketledger explain: TL-E040: 没有工单 NOPE"
    en = run(ledger, "explain", "NOPE")  # LANG=C
    assert en.stderr.strip() == "ticketledger explain: TL-E040: no ticket NOPE"


def test_a_bad_as_of_position(ledger: Path) -> None:
    zh = run(ledger, "--lang", "zh_CN", "replay", "--as-of-position", "9999")
    assert zh.returncode == 2
    assert "TL-E021: --as-of-position 9999：日志包含位置 1-" in zh.stderr and "请指定其中的位置" in zh.stderr
    en = run(ledger, "--lang", "en", "replay", "--as-of-position", "9999")
    assert "TL-E021: --as-of-position 9999: the log holds positions 1-" in en.stderr


def test_refused_commands_are_written_in_the_readers_language(ledger: Path) -> None:
    bad = str(ledger.parent / "bad.jsonl")
    zh = run(ledger, "--lang", "zh_CN", "import", bad)
    assert zh.returncode == 2, zh.stderr  # every item refused: nothing recorded
    assert "TL-E103" in zh.stderr and "未作任何记录：全部 2 条均被拒绝（原因见上）" in zh.stderr
    # the line begins as every error line does, in any language, so one search finds them all
    assert "ticketledger import: TL-E103: " in zh.stderr
    assert "bad.jsonl：第 1 行：TicketOpened T2 (command " in zh.stderr  # the command as it is named in the log
    assert "：未知故障等级 'catastrophic'；合同的故障等级有 urgent, severe, technical_help, normal" in zh.stderr
    assert "第 2 行：TicketOpened T3" in zh.stderr and "occurred_at 2061-01-01T01:00:00+00:00 比当前时间晚" in zh.stderr
    assert "请在事实发生之后、按其发生时间记录（容差 " in zh.stderr
    assert "读取 2，已记录 0，此前已记录 0，拒绝 2" in zh.stdout  # the import's counts too

    en = run(ledger, "--lang", "en", "import", bad)  # English, word for word as before
    assert "TL-E103" in en.stderr and "nothing recorded: all 2 of its items were refused (reasons above)" in en.stderr
    assert "read 2, recorded 0, already recorded 0, refused 2" in en.stdout
    assert ": unknown severity 'catastrophic'; the contract's severities are " \
           "urgent, severe, technical_help, normal" in en.stderr
    assert "occurred_at 2061-01-01T01:00:00+00:00 is" in en.stderr and "days in the future; record facts when " \
           "they have happened, with the times they happened (tolerance " in en.stderr
    # programs read the English reasons, whatever the language
    js = run(ledger, "--lang", "zh_CN", "--json", "import", bad)
    assert "unknown severity 'catastrophic'" in js.stdout and "未知" not in js.stdout


def test_a_refusal_keeps_its_english_text_and_its_template() -> None:
    from domain.errors import Refused
    from replay.i18n import texts

    e = Refused("TicketOpened T9 (command c9)", "unknown severity {severity}", "the contract's severities are "
                "{severities}", severity="'x'", severities=["normal"])
    assert str(e) == "TicketOpened T9 (command c9): unknown severity 'x'; the contract's severities are ['normal']"
    assert e.wrong == "unknown severity 'x'" and e.right == "the contract's severities are ['normal']"
    assert e.refusal.said(texts("zh_CN")) == "TicketOpened T9 (command c9)：未知故障等级 'x'；合同的故障等级有 ['normal']"
    assert e.refusal.said(texts("en")) == str(e)


def test_a_line_that_cannot_be_decoded_is_written_in_the_readers_language(ledger: Path) -> None:
    broken = ledger.parent / "broken.jsonl"
    broken.write_text('{"type": "TicketOpened", "id": 7}\n{not json\n{"type": "TicketOpend"}\n', encoding="utf-8")
    zh = run(ledger, "--lang", "zh_CN", "import", str(broken))
    assert zh.returncode == 2, zh.stderr
    assert "broken.jsonl：第 2 行：不是有效的 JSON：" in zh.stderr
    assert "broken.jsonl：第 3 行：无效命令：未知类型 'TicketOpend'；是否想写 TicketOpened / TicketReopened？" in zh.stderr
    assert "  未知类型" in zh.stdout and "  不是有效的 JSON" in zh.stdout  # refusals counted by kind
    # msgspec's own words are said too, not left in English inside a Chinese line
    assert "broken.jsonl：第 1 行：无效命令：应为文本，实为整数（位置 `$.id`）" in zh.stderr
    en = run(ledger, "--lang", "en", "import", str(broken))
    assert "broken.jsonl: line 1: invalid command: expected text, got a whole number - at `$.id`" in en.stderr
    assert "broken.jsonl: line 2: not valid JSON: " in en.stderr
    assert "line 3: invalid command: unknown type 'TicketOpend'; did you mean TicketOpened / TicketReopened?" in en.stderr


def test_a_usage_error_is_written_in_the_readers_language(ledger: Path) -> None:
    zh = run(ledger, "--lang", "zh_CN", "statement", "--format", "docx")
    assert zh.returncode == 2
    assert "ticketledger statement: TL-E001: 参数 --format：无效的选择：'docx'（可选：'html', 'pdf', 'xlsx'）" in zh.stderr
    assert "TL-E001: 缺少以下必需参数：view" in run(ledger, "--lang", "zh_CN", "report").stderr
    en = run(ledger, "statement", "--format", "docx")  # LANG=C
    assert "TL-E001: argument --format: invalid choice: 'docx' (choose from 'html', 'pdf', 'xlsx')" in en.stderr


def test_an_unknown_language_setting_is_said_in_both_languages(ledger: Path) -> None:
    import os

    done = subprocess.run([*CLI, "--data-dir", str(ledger), "log"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TICKETLEDGER_LANG": "fr"})
    assert done.returncode == 2
    assert "TL-E002: TICKETLEDGER_LANG=fr: language 'fr' is not one ticketledger writes; use zh_CN or en" in done.stderr
    assert "ticketledger 只使用 zh_CN（中文）或 en（英文）" in done.stderr


def test_the_console_users_file_speaks_the_readers_language(tmp_path: Path) -> None:
    users = tmp_path / "users.toml"
    add = [*CLI, "--lang", "zh_CN", "--data-dir", str(tmp_path), "users", "add", "li-wei", "--role", "customer",
           "--customer", "buyer-000", "--users", str(users), "--password-stdin"]
    nameless = [*CLI, "--lang", "en", "--data-dir", str(tmp_path), "users", "add", "bob", "--role", "supplier",
                "--users", str(users), "--password-stdin"]  # a supplier user without its supplier
    done = subprocess.run(nameless, input="a long enough password\n", capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--supplier supplier-000 to `users add`" in done.stderr, done.stderr
    piped = [a for a in add if a != "--password-stdin"]  # a password piped in without saying so
    done = subprocess.run(piped, input="a long enough password\n", capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "--password-stdin" in done.stderr, done.stderr
    assert not users.exists()
    short = subprocess.run(add, input="short\n", capture_output=True, text=True, timeout=120)
    assert short.returncode == 2 and "TL-E" in short.stderr and "密码至少需要" in short.stderr
    assert not users.exists()  # nothing written
    done = subprocess.run(add, input="a long enough password\n", capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{users}：li-wei（客户用户：客户 buyer-000）"
    listed = run(tmp_path, "--lang", "zh_CN", "users", "list", "--users", str(users))
    assert "用户" in listed.stdout and "角色" in listed.stdout and "supplier  customer" not in listed.stdout
    users.write_text(users.read_text(encoding="utf-8") + 'colour = "red"\n', encoding="utf-8")
    listed = run(tmp_path, "--lang", "zh_CN", "users", "list", "--users", str(users))
    assert listed.returncode == 2 and "[users.li-wei]：未知的键 colour；可用的键为 contracts" in listed.stderr
    en = run(tmp_path, "users", "list", "--users", str(users))  # LANG=C
    assert "[users.li-wei]: unknown key(s) colour; keys are contracts" in en.stderr


def test_a_witness_alarm_keeps_its_english_evidence_and_is_said_in_chinese(tmp_path: Path) -> None:
    from adapters.witness import Alarm
    from domain.errors import N_, Phrase
    from replay.i18n import texts

    reason = Phrase(N_("rollback: a checkpoint of {size} events after the accepted one of {old} (events were "
                       "removed, or the log was restored from a backup without an announcement)"), size=90, old=100)
    alarm = Alarm(reason, tmp_path)
    assert str(alarm).startswith("ALARM: rollback: a checkpoint of 90 events after the accepted one of 100 (")
    assert alarm.said(texts("zh_CN")).startswith("警报：回滚：在已接受的 100 个事件的检查点之后，出现了 90 个事件的检查点")


def test_a_document_s_status_line_is_in_the_contract_s_language(ledger: Path, tmp_path: Path) -> None:
    """README (Languages): with no --lang, the CLI speaks the contract's language where one applies.
    The statement and the dispute report are written in Chinese for a contract in Beijing time; the
    line saying what was written was English under LANG=C, beside a Chinese document."""
    assert run(ledger, "views", "rebuild").returncode == 0
    statement = run(ledger, "statement", "--customer", "buyer-000", "--month", "2025-10",
                    "--out", str(tmp_path / "s.html"))
    assert statement.returncode == 0, statement.stderr
    assert statement.stdout.startswith(f"已写入 {tmp_path / 's.html'}（") and "zh_CN" in statement.stdout
    report = run(ledger, "explain", "T1", "--out", str(tmp_path / "t1.html"))
    assert report.returncode == 0, report.stderr
    assert report.stdout.startswith(f"已写入 {tmp_path / 't1.html'}（") and "工单 T1" in report.stdout
    english = run(ledger, "--lang", "en", "explain", "T1", "--out", str(tmp_path / "t1-en.html"))
    assert english.stdout.startswith(f"wrote {tmp_path / 't1-en.html'} (")
