"""Stable codes of the CLI's errors: what a script or a support person searches for.

Every error the CLI prints is `ticketledger COMMAND: TL-Ennn: message` (exit 2). A `UserError`
raised with `code=` carries one of CODES; one raised without names the command it came from
(COMMAND_CODES), so every line has a code even before its case has a code of its own.
README.md (section *Errors and exit codes*) lists them; a test keeps the three in step.
"""

from __future__ import annotations

# code -> what it means (English; the README's table)
CODES: dict[str, str] = {
    "TL-E001": "bad option or argument (the usage line shows the right form)",
    "TL-E002": "unknown language: --lang or TICKETLEDGER_LANG takes zh_CN or en",
    "TL-E010": "no ledger in the data folder (run `init`, or check --data-dir)",
    "TL-E011": "the data folder cannot be used: empty name, a file, not writable or not creatable",
    "TL-E012": "the ledger database cannot be opened (damaged, or not a ledger)",
    "TL-E013": "the data folder belongs to another store than TICKETLEDGER_POSTGRES (and _SCHEMA) name, or none",
    "TL-E020": "a time that is not ISO 8601 with a zone",
    "TL-E021": "a log position outside the log, or a recording time later than now",
    "TL-E030": "no views yet (run `views rebuild`)",
    "TL-E031": "a file that is not a views database, or no such file",
    "TL-E032": "a views file in use by another process",
    "TL-E033": "an output file or folder that cannot be written",
    "TL-E040": "no such ticket, asset, contract or person",
    "TL-E041": "a filter or column a report does not have (--state, --month, --columns)",
    "TL-E042": "a replay scope the ledger does not hold: an unknown customer or contract, a --tickets line",
    "TL-E043": "what-if terms that name no contract of the ledger (add --terms-for CONTRACT, or '*')",
    "TL-E050": "SQL the views cannot answer, or that would read or write files",
    "TL-E060": "NATS did not answer in time",
    "TL-E070": "refused by the ledger: the command would break a rule of the model",
    "TL-E160": "a report whose proof cannot be read (not from `explain`, changed or cut, or a format that carries none), or a saved checkpoint file that is missing or no signed checkpoint note",
    "TL-E161": "a checkpoint whose signature does not hold, or signed by no key given",
    "TL-E162": "a cited event whose leaf cannot be computed from the report",
    "TL-E163": "a cited event that the inclusion proof does not put in the signed log",
    "TL-E164": "a cited event whose stored bytes in the report were altered",
    "TL-E165": "the log does not extend a saved checkpoint: rewritten, rolled back or split",
    "TL-E166": "a verifier key that cannot be read",
    "TL-E167": "no usable log key (`init` makes one; TICKETLEDGER_LOG_KEY / _FILE on PostgreSQL)",
    "TL-E168": "the log's Merkle tree is not built yet (`ticketledger checkpoint` builds it)",
    "TL-E169": "a tree size outside the log's tree",
    "TL-E170": "a report's proof not checked against the log's key: no --log-key (nor a saved --checkpoint) given, so anyone could have made it",
    "TL-E171": "a report's proof that does not carry what the report shows: no cited event, a position the report lists missing, or one it does not list",
    "TL-E172": "a report's proof about another ticket: its events are not the report's ticket's, its asset's or its contract's",
    "TL-E173": "a cited event whose stored bytes are withheld (`explain` always carries them)",
    "TL-E180": "the LEDGER stream is not the one the relay recorded: gone, re-created, shortened, sealed or given limits",
    "TL-E181": "witness alarm: a checkpoint that does not extend the one accepted (rewrite, rollback, split view)",
    "TL-E182": "a report's checkpoint lacks a cosignature `proof verify --witness-key` requires, or it does not hold",
}

# The code of an error raised without one: the command it came from. A new command adds a line
# here (a test fails until it does).
COMMAND_CODES: dict[str, str] = {
    "init": "TL-E101", "contract": "TL-E102", "import": "TL-E103", "ticket": "TL-E104",
    "asset": "TL-E105", "log": "TL-E106", "calendar": "TL-E107", "attach": "TL-E108",
    "person": "TL-E109", "erase-person": "TL-E110", "demo": "TL-E111", "views": "TL-E112",
    "report": "TL-E113", "sql": "TL-E114", "export": "TL-E115", "nats": "TL-E116",
    "relay": "TL-E117", "tail": "TL-E118", "schema": "TL-E119", "verify": "TL-E120",
    "explain": "TL-E121", "replay": "TL-E122", "diff": "TL-E123", "statement": "TL-E124",
    "proof": "TL-E125", "prove": "TL-E130", "witness": "TL-E126", "checkpoint": "TL-E127", "console": "TL-E128", "serve": "TL-E128", "users": "TL-E129",
}
OTHER_COMMAND = "TL-E199"


def code_for(command: str | None) -> str:
    return COMMAND_CODES.get(command or "", OTHER_COMMAND)
