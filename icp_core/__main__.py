"""The ICP Explorer command line.

    python -m icp_core ingest (FILE | --postgres TABLE_OR_QUERY [--dsn DSN]) [--opportunities FILE] [--name NAME]
    python -m icp_core score FILE --profile PROFILE.json [--out OUT.csv] [--skip-missing-traits]
    python -m icp_core suggest FILE --outcome COLUMN [--positive VALUE] [--max-traits 12] [--allow-column HEADER]
                               --out PROFILE.json
    python -m icp_core backtest FILE --profile PROFILE.json --outcome COLUMN [--positive VALUE] [--include-insufficient]
    python -m icp_core tam FILE --profile PROFILE.json --by DIM [--by DIM2] [--market FILE] [--acv VALUE] [--out OUT.csv]
    python -m icp_core run-sql --profile PROFILE.json [--profile P2.json] --engine postgres|duckdb|spark --table T --target T2 [--dsn DSN]
    python -m icp_core onepager (FILE | --dataset ID|NAME|sample) --profile PROFILE.json [--outcome OUTCOME] [--out OUT.html]


Thin over the same functions the app uses. Bad input exits non-zero with one line on
stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .formatting import pct
from .ingest import IngestError, ingest_dataset
from .store import DatasetStore, cli_workspace, data_dir, new_token


class CliError(Exception):
    """A user-facing problem: printed as one line, exit status 2."""


def format_quality(meta: dict) -> str:
    """The quality summary as plain text lines."""
    q = meta["quality"]
    src = q["source"]
    lines = [
        f"dataset id: {meta['id']}",
        f"name:       {meta['name']}",
        f"file:       {src['file_name']} ({src['format']}"
        + (f", {src['encoding']}" if src.get("encoding") else "")
        + (f", delimiter {src['delimiter']!r}" if src.get("delimiter") else "")
        + (f", sheet {src['sheet']!r}" if src.get("sheet") else "") + ")",
        f"rows:       {q['rows_loaded']:,} loaded of {q['rows_read']:,} read, {q['rows_rejected']:,} rejected",
    ]
    shape = meta.get("shape") or {}
    if shape.get("shape", "accounts") != "accounts":
        lines.append(f"shape:      {shape['message']} ({shape['reason']})")
    for ex in q["rejected_examples"]:
        lines.append(f"  rejected line {ex['line']}: {ex['reason']}: {ex['text'][:80]!r}")
    for note in src.get("notes", []):
        lines.append(f"  note: {note}")
    lines.append("")
    lines.append(f"{'column':<28} {'role':<24} {'parsed':>7} {'empty':>7} {'unreadable':>10}  examples")
    for c in q["columns"]:
        examples = ", ".join(repr(e["value"])[:30] for e in c["unparseable_examples"][:3])
        lines.append(
            f"{c['header'][:28]:<28} {c['role_label'][:24]:<24} {pct(c['parsed_share'], 1):>7} "
            f"{pct(c['null_share'], 1):>7} {pct(c['unparseable_share'], 1):>10}  {examples}"
        )
    r = q.get("rollup")
    if r:
        lines.append("")
        lines.append(
            f"opportunities: {r['opportunity_rows']:,} rows rolled up on {r['join_on'].replace('_', ' ')}; "
            f"{r['rows_without_account']:,} rows have no account; "
            f"{r['accounts_with_opportunities']:,} of {r['accounts_total']:,} accounts have deals; "
            f"{r['unmatched_keys']:,} account keys match no account ({r['unmatched_rows']:,} rows)"
        )
    for h in q["hints"]:
        lines.append(f"hint: {h['message']}")
    for d in q.get("duplicates", []):
        lines.append(f"duplicates: {d['message']}")
    shape = meta.get("shape") or {}
    for d in shape.get("disagreements", []):
        lines.append(f"differs within accounts: {d['message']}")
    return "\n".join(lines)


def _cmd_ingest(args) -> int:
    root = Path(args.data_dir) if args.data_dir else data_dir()
    store = DatasetStore(root, cli_workspace(root))
    from .readers import ReadOptions

    if args.header_row is not None and args.header_row < 1:
        raise CliError(f"--header-row is counted from 1; got {args.header_row}")
    if (args.file is None) == (args.postgres is None):
        raise CliError("give an accounts FILE or --postgres TABLE_OR_QUERY (one of them)")
    import tempfile

    with tempfile.TemporaryDirectory(prefix="icp_pg_") as tmp:
        accounts, shown = Path(args.file) if args.file else Path(tmp) / "accounts.parquet", None
        if args.postgres is not None:
            from .engines import EngineError, read_postgres, source_label

            try:
                read_postgres(args.postgres, accounts, dsn=args.dsn)
            except EngineError as exc:
                raise CliError(str(exc)) from None
            shown = source_label(args.postgres)
        result = ingest_dataset(store, accounts, Path(args.opportunities) if args.opportunities else None,
                                name=args.name or shown, shape=args.shape, key=args.key,
                                display_names=(shown, None), source_format="postgresql" if shown else None,
                                read_options=ReadOptions(encoding=args.encoding, sheet=args.sheet,
                                                         header_row=args.header_row))
    meta = result.meta
    if args.join or args.enrich:
        from .sources import add_source
        for path, enrich in [(j, False) for j in (args.join or [])] + [(e, True) for e in (args.enrich or [])]:
            report = add_source(store, result.dataset_id, Path(path), enrich=enrich)
            line = (f"joined {report['file']} on {report['key']}: {report['matched_rows']:,} of {report['rows']:,} rows "
                    f"matched ({pct(report['match_rate'])}), {report['accounts_matched']:,} accounts"
                    + ("; rolled up per account" if report["one_to_many"] else ""))
            if report["unmatched_keys"]:
                line += f"; unmatched keys e.g. {', '.join(report['unmatched_keys'][:5])}"
            for header, f in report["filled"].items():
                line += f"; filled {f['filled']:,} blank {header}"
            print(line, file=sys.stderr)
        meta = store.read_meta(result.dataset_id)
    if args.json:
        print(json.dumps(ingest_summary(meta), ensure_ascii=False, default=str))
    else:
        print(format_quality(meta))
    return 0


def ingest_summary(meta: dict) -> dict:
    """`ingest --json`: what was read, what one row was, and every column with its role and counts."""
    q = meta["quality"]
    src = q["source"]
    shape = meta.get("shape") or {}
    return {
        "id": meta["id"], "name": meta["name"],
        "shape": shape.get("shape", "accounts"), "key": shape.get("key_header"),
        "shape_reason": shape.get("reason"), "accounts": meta["rows"],
        "rows_read": src.get("rows_read", q["rows_read"]), "rows_skipped": src.get("rows_skipped", 0),
        "rows_rejected": q["rows_rejected"], "rows_without_key": shape.get("rows_without_key", 0),
        "encoding": src.get("encoding"), "sheet": src.get("sheet"), "sheets": src.get("sheets", []),
        "header_row": src.get("header_row"), "format": src.get("format"), "delimiter": src.get("delimiter"),
        "columns": [{"header": c["header"], "key": c["key"], "role": c["role"], "parsed": c["parsed_share"],
                     "empty": c["null_share"], "unreadable": c["unparseable_share"]} for c in q["columns"]],
        "disagreements": shape.get("disagreements", []),
        "duplicates": q.get("duplicates", []),
        "hints": [h["message"] for h in q["hints"]],
        "notes": src.get("notes", []),
        "rollup": q.get("rollup"),
    }


def _read_profile(path: str, as_set: bool = False):
    """The ICP profile JSON at `path` (as_set: a profile or an ICP set file, read as an IcpSet),
    or a CliError saying what is wrong with it."""
    from .icpset import MAX_ICPS, icp_set_from_json
    from .profile import MAX_PROFILE_JSON_BYTES, ProfileError, profile_from_json

    limit = MAX_PROFILE_JSON_BYTES * (MAX_ICPS if as_set else 1)
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)  # never more: a bigger file is refused
        return icp_set_from_json(data) if as_set else profile_from_json(data)
    except FileNotFoundError:
        raise CliError(f"profile not found: {path}") from None
    except IsADirectoryError:
        raise CliError(f"profile is a directory: {path}") from None
    except OSError as exc:
        raise CliError(f"cannot read profile {path}: {exc.strerror or exc}") from None
    except ProfileError as exc:
        raise CliError(f"malformed profile{' (or ICP set)' if as_set else ''} {path}: {exc}") from None


def _read_icp_set(paths: list[str]):
    """One ICP set from --profile files: one set file, or one or more profiles (each file a
    profile or a set of one) combined in the order given."""
    from .icpset import combine_profiles
    from .profile import ProfileError

    sets = [_read_profile(p, as_set=True) for p in paths]
    if len(sets) == 1:
        return sets[0]
    several = [p for p, s in zip(paths, sets, strict=True) if len(s.profiles) > 1]
    if several:
        raise CliError(f"{several[0]} is a set of {len(sets[paths.index(several[0])].profiles)} ICPs: "
                       "give one set file, or several single profiles")
    try:
        return combine_profiles([s.profiles[0] for s in sets])
    except ProfileError as exc:
        raise CliError(f"these profiles do not make an ICP set: {exc}") from None


def _cmd_score(args) -> int:
    import tempfile

    from .dataset import AccountMatrix
    from .export import EXPORT_FORMATS, FileColumns, scored_export_bytes
    from .roles import ColumnSpec

    icps = _read_icp_set(args.profile)
    fmt = args.format or (Path(args.out).suffix.lower().lstrip(".") if args.out else "csv")
    if fmt not in EXPORT_FORMATS:
        raise CliError(f"unknown output format {fmt!r}: use --format csv, xlsx or parquet")
    if fmt != "csv" and not args.out:
        raise CliError(f"--format {fmt} needs --out FILE (binary output)")
    with tempfile.TemporaryDirectory(prefix="icp_score_") as tmp:
        store = DatasetStore(Path(tmp), new_token())
        result = ingest_dataset(store, Path(args.file))
        specs = [ColumnSpec.from_dict(c) for c in result.meta["columns"]]
        accounts = AccountMatrix(lambda: store.open_dataset(result.dataset_id), specs)
        scored, label, lines = _score_icps(icps, accounts, specs, Path(args.file).name, args.skip_missing_traits)
        # the one export schema (icp_core.export), as the Score page download and the Share page's CRM export
        from .engagement import engagement_extra

        data = scored_export_bytes(FileColumns(lambda: store.open_dataset(result.dataset_id), specs),
                                   scored, label, fmt, extra=engagement_extra(icps.profiles, accounts, scored) or None)
    if args.out:
        from .store import write_atomic
        write_atomic(Path(args.out), data)
    else:
        sys.stdout.buffer.write(data.removeprefix("\ufeff".encode()))
        sys.stdout.flush()
    for line in lines:
        print(line + (f"; wrote {args.out}" if args.out and line is lines[-1] else ""), file=sys.stderr)
    return 0


def _score_icps(icps, accounts, specs, file_name: str, skip_missing: bool):
    """Score a set on the accounts: (ScoreResult for a set of one, else SetScore; version label;
    summary lines for stderr). CliError when a trait's column is missing, unless skip_missing."""
    from .icpset import overlap, set_score
    from .profile import resolve_profile
    from .scoring import score_accounts, tier_summary

    results, lines = [], []
    for profile in icps.profiles:
        binding = resolve_profile(profile, specs)
        if binding.problems:
            text = "; ".join(binding.problems)
            where = f" of “{profile.name}”" if len(icps.profiles) > 1 else ""
            if not skip_missing:
                raise CliError(f"{len(binding.problems)} trait(s){where} cannot be scored on {file_name}: {text} "
                               "(use --skip-missing-traits to score with the others)")
            print(f"warning: scoring without {len(binding.problems)} trait(s){where}: {text}", file=sys.stderr)
        r = score_accounts(accounts.patterns(binding.traits), [t for t, _ in binding.traits], profile.tier_rule)
        counts = ", ".join(f"{row.tier} {row.accounts:,}" for row in tier_summary(r, accounts).itertuples())
        lines.append(f"scored {accounts.n:,} accounts with {len(binding.traits)} trait(s) of “{profile.name}”: {counts}")
        results.append(r)
    if len(results) == 1:
        return results[0], icps.profiles[0].name, lines
    scored = set_score(icps.names, results)
    best = overlap(scored)["best_fit"]
    lines.append("best fit: " + ", ".join(f"{r.icp} {r.accounts:,}" for r in best.itertuples()))
    return scored, _set_label(icps), lines


def _set_label(icps) -> str:
    """How an ICP set is named as the version of its scores: 'Set (ICP one, ICP two)'."""
    return f"{icps.name} ({', '.join(icps.names)})"


def _cmd_lookalikes(args) -> int:
    import tempfile

    from .dataset import AccountMatrix
    from .export import EXPORT_FORMATS, FileColumns, export_bytes, scored_export_bytes
    from .lookalike import (
        LookalikeError,
        default_exemplars,
        exemplars_from_names,
        export_columns,
        find_lookalikes,
        one_step_away,
        similarity_auc,
    )
    from .outcomes import EvidenceError, default_outcome
    from .profile import resolve_profile
    from .roles import ColumnSpec
    from .scoring import score_accounts
    from .segments import default_cluster_columns

    profile = _read_profile(args.profile)
    fmt = Path(args.out).suffix.lower().lstrip(".")
    if fmt not in EXPORT_FORMATS:
        raise CliError(f"unknown output format {fmt!r}: --out must end in .csv, .xlsx or .parquet")
    names = None
    if args.exemplars:
        try:
            names = Path(args.exemplars).read_text(encoding="utf-8-sig", errors="replace").splitlines()
        except OSError as exc:
            raise CliError(f"cannot read the exemplar list {args.exemplars}: {exc.strerror or exc}") from None
    with tempfile.TemporaryDirectory(prefix="icp_lookalikes_") as tmp:
        store = DatasetStore(Path(tmp), new_token())
        loaded = ingest_dataset(store, Path(args.file), Path(args.opportunities) if args.opportunities else None)
        specs = [ColumnSpec.from_dict(c) for c in loaded.meta["columns"]]
        columns = FileColumns(lambda: store.open_dataset(loaded.dataset_id), specs)
        accounts = AccountMatrix(columns.connect, specs)
        try:
            rows = exemplars_from_names(accounts, names) if names is not None else default_exemplars(accounts)
            lk = find_lookalikes(accounts, rows)
        except LookalikeError as exc:
            raise CliError(str(exc)) from None
        binding = resolve_profile(profile, accounts.specs)
        if binding.problems:
            print(f"warning: scoring without {len(binding.problems)} trait(s): {'; '.join(binding.problems)}",
                  file=sys.stderr)
        result = score_accounts(accounts.patterns(binding.traits), [t for t, _ in binding.traits], profile.tier_rule)
        near = one_step_away(lk, result, accounts, default_cluster_columns(accounts), args.min_similarity, limit=500)
        data = scored_export_bytes(columns, result, profile.name, fmt, extra=export_columns(lk, accounts))
        try:
            auc = similarity_auc(lk, accounts, default_outcome(accounts))
        except EvidenceError:
            auc = float("nan")
    from .store import write_atomic
    write_atomic(Path(args.out), data)
    if args.one_step_away:
        write_atomic(Path(args.one_step_away), export_bytes(near.drop(columns="row"), "csv"))
    print(f"{len(lk.exemplars)} exemplars; similarity on {', '.join(lk.columns)}; "
          f"AUC of the similarity alone (held out): {auc:.3f}; {len(near):,} account(s) one step away "
          f"(similarity ≥ {args.min_similarity:g}, tier C or D); wrote {args.out}", file=sys.stderr)
    return 0


def _add_lookalikes_parser(sub) -> None:
    """The `lookalikes` subcommand."""
    lk = sub.add_parser("lookalikes", help="similarity of every account to exemplar customers, and the accounts "
                                           "one step away (similar, but scoring C or D)")
    lk.add_argument("file", help="accounts file: CSV/TSV, .xlsx or .parquet")
    lk.add_argument("--opportunities", help="opportunities file to roll up")
    lk.add_argument("--profile", required=True, help="ICP profile JSON (the tiers the one-step-away list is read against)")
    lk.add_argument("--exemplars", help="text file, one account id or name per line (10-500 accounts); "
                                        "default: the won customers with the highest ARR (up to 100)")
    lk.add_argument("--min-similarity", type=float, default=80.0, help="one step away from this similarity (0-100)")
    lk.add_argument("--out", required=True, help="scored accounts with ICP Similarity and ICP Closest Exemplar "
                                                 "(.csv, .xlsx or .parquet)")
    lk.add_argument("--one-step-away", help="CSV of the one-step-away accounts (similar values, missed traits)")
    lk.set_defaults(func=_cmd_lookalikes)


def _cmd_calibration(args) -> int:
    """`calibration export`: a blind sheet of 20-40 accounts (stratified by tier, scores hidden), one
    column per rater; `calibration read`: the filled sheet against the model (kappa, confusion,
    disagreements, proposed weight changes) as JSON on stdout."""
    import json
    import tempfile

    from .calibration import CalibrationError, blind_sheet, calibrate, draw_sample, read_sheet, sheet_columns
    from .export import to_csv_bytes
    from .scoring import score_profile

    if args.action == "export" and not (args.raters and args.out):
        raise CliError("calibration export needs --raters 'Ann, Bo' and --out SHEET.csv")
    if args.action == "read" and not args.sheet:
        raise CliError("calibration read needs --sheet FILLED.csv")
    profile = _read_profile(args.profile)
    with tempfile.TemporaryDirectory(prefix="icp_calibration_") as tmp:
        accounts, _ = _load_for_evidence(argparse.Namespace(file=args.file, opportunities=args.opportunities,
                                                            outcome="won", positive=None), tmp)
        result, binding = score_profile(accounts, profile)
        try:
            if args.action == "export":
                raters = [r.strip() for r in (args.raters or "").split(",") if r.strip()]
                sheet = blind_sheet(accounts, draw_sample(result, args.accounts, args.seed), raters)
                from .store import write_atomic
                write_atomic(Path(args.out), to_csv_bytes(sheet))
                print(f"wrote a blind sheet of {len(sheet)} accounts for {', '.join(raters)} to {args.out}",
                      file=sys.stderr)
                return 0
            frame = _read_sheet_file(Path(args.sheet))
            known = {s.header for s in sheet_columns(accounts)}
            rows, ratings = read_sheet(frame, accounts.n, known)
            outcome = _outcome_arg(args.outcome, args.positive) if args.outcome else None
            cal = calibrate(accounts, profile, result, rows, ratings, outcome)
        except CalibrationError as exc:
            raise CliError(str(exc)) from None
    report = {**cal.summary(), "confusion": cal.confusion.to_dict(),
              "disagreements": cal.disagreements.drop(columns=["trait_index"]).to_dict("records"),
              "proposals": cal.proposals.to_dict("records")}
    print(json.dumps(json.loads(json.dumps(report, default=float), parse_constant=lambda c: None), indent=2,
                     ensure_ascii=False))
    return 0


def _read_sheet_file(path: Path):
    import pandas as pd

    from .calibration import CalibrationError

    try:
        if path.suffix.lower() == ".xlsx":
            return pd.read_excel(path, dtype=str, keep_default_na=False)
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, ValueError) as exc:
        raise CalibrationError(f"cannot read the sheet {path.name}: {str(exc)[:200]}") from None


def _add_calibration_parser(sub) -> None:
    cal = sub.add_parser("calibration", help="calibration round with sales: a blind sheet out, the filled sheet back")
    cal.add_argument("action", choices=["export", "read"])
    cal.add_argument("file", help="accounts file: CSV/TSV, .xlsx or .parquet")
    cal.add_argument("--opportunities", help="opportunities file to roll up")
    cal.add_argument("--profile", required=True, help="ICP profile JSON")
    cal.add_argument("--raters", help="export: the raters' names, comma-separated (one column each)")
    cal.add_argument("--accounts", type=int, default=30, help="export: accounts in the round (20-40, default 30)")
    cal.add_argument("--seed", type=int, default=0, help="export: which accounts are drawn (default 0)")
    cal.add_argument("--out", help="export: where to write the blind sheet (CSV)")
    cal.add_argument("--sheet", help="read: the filled sheet (CSV or .xlsx)")
    cal.add_argument("--outcome", help="read: backtest outcome for the proposed weight changes (e.g. won)")
    cal.add_argument("--positive", help="read: the good value of the outcome column")
    cal.set_defaults(func=_cmd_calibration)


def _load_for_evidence(args, tmp: str):
    """Ingest FILE (and --opportunities) into a throwaway store; returns (accounts, outcome)."""
    from .dataset import AccountMatrix
    from .roles import ColumnSpec

    store = DatasetStore(Path(tmp), new_token())
    opp = Path(args.opportunities) if getattr(args, "opportunities", None) else None
    result = ingest_dataset(store, Path(args.file), opp)
    specs = [ColumnSpec.from_dict(c) for c in result.meta["columns"]]
    accounts = AccountMatrix(lambda: store.open_dataset(result.dataset_id), specs)
    return accounts, _outcome_arg(args.outcome, args.positive)


def _outcome_arg(name: str, positive: str | None):
    """--outcome / --positive as an Outcome: won, retained, nps_promoter, or a column and its good value."""
    from .outcomes import Outcome

    if name in ("won", "retained", "nps_promoter") and not positive:
        return Outcome(name)
    return Outcome("column", column=name, good_when=positive)


def _cmd_suggest(args) -> int:
    import tempfile

    from .outcomes import EvidenceError, OutcomeIncomplete
    from .suggest import suggest_traits

    if not 1 <= args.max_traits <= 12:
        raise CliError("--max-traits must be between 1 and 12")
    with tempfile.TemporaryDirectory(prefix="icp_suggest_") as tmp:
        accounts, outcome = _load_for_evidence(args, tmp)
        try:
            sug = suggest_traits(accounts, outcome, args.max_traits, allow=frozenset(args.allow_column or []))
        except OutcomeIncomplete as exc:
            raise CliError(f"{exc} (pass it with --positive)") from None
        except EvidenceError as exc:
            raise CliError(str(exc)) from None
    for flag in sug.leaks:
        state = "included (--allow-column)" if flag.header not in sug.excluded else "left out"
        print(f"leakage: {flag.reading()}: {state}", file=sys.stderr)
    print(sug.message, file=sys.stderr)
    for c in sug.candidates:
        if c.data_weight:
            print(f"  {c.data_weight:+d}  {c.trait.label}  (support {c.support:,}, rate {pct(c.rate, 1)}, lift {c.lift:.2f})",
                  file=sys.stderr)
    if not sug.found:
        return 3
    from .store import write_atomic
    profile = sug.profile(name=f"Suggested ICP for {Path(args.file).stem}")
    write_atomic(Path(args.out), profile.to_json().encode())
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _cmd_backtest(args) -> int:
    import json
    import tempfile

    from .backtest import live_backtest
    from .outcomes import EvidenceError, OutcomeIncomplete
    from .reference import reference_auc
    from .scoring import score_profile

    profile = _read_profile(args.profile)
    with tempfile.TemporaryDirectory(prefix="icp_backtest_") as tmp:
        accounts, outcome = _load_for_evidence(args, tmp)
        result, binding = score_profile(accounts, profile)
        if binding.problems:
            print("warning: scoring without " + "; ".join(binding.problems), file=sys.stderr)
        try:
            bt = live_backtest(accounts, result, outcome, include_insufficient=args.include_insufficient)
            ref = reference_auc(accounts, outcome)
            from .leakage import flag_columns

            flags = flag_columns(accounts, outcome)
        except OutcomeIncomplete as exc:
            raise CliError(f"{exc} (pass it with --positive)") from None
        except EvidenceError as exc:
            raise CliError(str(exc)) from None
    used = {s.key for _, s in binding.traits}
    leaks = [f for k, f in flags.items() if k in used]
    for f in leaks:
        print(f"leakage: the profile scores on {f.reading()}: this backtest flatters it", file=sys.stderr)
    report = bt.to_dict(reference_auc=ref)
    report["profile"] = profile.name
    report["leakage"] = [{"column": f.header, "reasons": f.reasons} for f in leaks]
    clean = json.loads(json.dumps(report, default=float), parse_constant=lambda c: None)  # NaN -> null
    print(json.dumps(clean, indent=2, ensure_ascii=False))
    return 0


def _scored(path: Path, profile, tmp: str, skip_missing: bool, what: str):
    """Ingest a file and score it with `profile`; returns (accounts, result)."""
    from .dataset import AccountMatrix
    from .roles import ColumnSpec
    from .scoring import score_profile

    store = DatasetStore(Path(tmp), new_token())
    res = ingest_dataset(store, path)
    specs = [ColumnSpec.from_dict(c) for c in res.meta["columns"]]
    accounts = AccountMatrix(lambda: store.open_dataset(res.dataset_id), specs)
    result, binding = score_profile(accounts, profile)
    if binding.problems:
        text = "; ".join(binding.problems)
        if not skip_missing:
            raise CliError(f"{len(binding.problems)} trait(s) cannot be scored on {what} {path.name}: {text} "
                           "(use --skip-missing-traits to score with the others)")
        print(f"warning: {what} scored without {len(binding.problems)} trait(s): {text}", file=sys.stderr)
    return accounts, result


def _cmd_tam(args) -> int:
    import tempfile

    from .formatting import count, money
    from .tam import DIMENSIONS, TamAssumptions, TamError, known_customers, segment_values, tam_table

    profile = _read_profile(args.profile)
    if len(args.by) > 2:
        raise CliError("segment by one or two dimensions (--by at most twice)")
    if "cluster" in args.by:
        raise CliError("--by cluster is available in the app (Clusters page); use tier, industry, country, region, "
                       "employee_band, revenue_band or a column")
    with tempfile.TemporaryDirectory(prefix="icp_tam_") as tmp:
        accounts, result = _scored(Path(args.file), profile, tmp, args.skip_missing_traits, "customer file")
        if args.market:
            market, market_result = _scored(Path(args.market), profile, tmp, args.skip_missing_traits, "market file")
        else:
            market, market_result = accounts, result
        try:
            a = TamAssumptions(acv_stat=args.acv_stat, min_customers=args.min_customers, acv_override=args.acv,
                               attainable_share=args.share / 100)
            customers = known_customers(accounts)  # None: a market-only file, the ACV comes from --acv
            if customers is None and args.acv is None:
                raise CliError("the customer file says nothing about customers (no won/lost, churn or ARR column), "
                               "so there is no ACV to multiply by: pass --acv (e.g. --acv 20000)")
            table, totals = tam_table([segment_values(market, market_result, d) for d in args.by],
                                      np.ones(market.n, dtype=bool),
                                      None if customers is None else [segment_values(accounts, result, d)
                                                                      for d in args.by],
                                      customers, accounts.arr, a)
        except TamError as exc:
            raise CliError(str(exc)) from None
    header = " · ".join(DIMENSIONS.get(d, d) for d in args.by)
    if args.out:
        from .export import to_csv_bytes
        from .store import write_atomic
        write_atomic(Path(args.out), to_csv_bytes(table.rename(columns={"segment": header})))
    lines = [f"{header[:34]:<34} {'market':>9} {'customers':>9} {'penetr.':>8} {'ACV used':>10} {'TAM':>12} "
             f"{'SAM':>12} {'SOM':>11}  ACV from"]
    for r in table.itertuples():
        lines.append(f"{str(r.segment)[:34]:<34} {count(r.market_accounts):>9} {count(r.customers):>9} "
                     f"{pct(r.penetration, 1):>8} {money(r.acv_used):>10} "
                     f"{money(r.tam):>12} {money(r.sam):>12} {money(r.som):>11}  {r.acv_source}")
    lines.append(f"{'TOTAL':<34} {count(totals['market_accounts']):>9} {count(totals['customers']):>9} {'':>8} "
                 f"{'':>10} {money(totals['tam']):>12} {money(totals['sam']):>12} {money(totals['som']):>11}")
    print("\n".join(lines))
    print(f"overall {args.acv_stat} ACV {money(totals['overall_acv'])}; fallback ACV {money(totals['fallback_acv'])} "
          f"for {totals['segments_on_fallback']} segment(s) with fewer than {args.min_customers} customers with ARR"
          + (f"; wrote {args.out}" if args.out else ""), file=sys.stderr)
    return 0


def _stored_dataset(root: Path, name: str):
    """(store, meta) of a dataset in the data directory: `sample` (the bundled sample, loaded on first
    use), or the id or name of one loaded with `ingest`."""
    from .ingest import ensure_sample_dataset
    from .store import SAMPLE_WORKSPACE

    if name == SAMPLE_WORKSPACE:
        store = DatasetStore(root, SAMPLE_WORKSPACE)
        return store, store.read_meta(ensure_sample_dataset(root))
    store = DatasetStore(root, cli_workspace(root))
    datasets, _ = store.list_datasets()
    hits = [m for m in datasets if m["id"] == name] or [m for m in datasets if m["name"] == name]
    if not hits:
        raise CliError(f"no dataset {name!r} in {root} (load one with `ingest`, or use --dataset sample)")
    if len(hits) > 1:
        raise CliError(f"{len(hits)} datasets are named {name!r}: give its id ({', '.join(m['id'] for m in hits)})")
    return store, hits[0]


def _cmd_onepager(args) -> int:
    import tempfile

    from .dataset import AccountMatrix
    from .onepager import build_onepager
    from .roles import ColumnSpec
    from .scoring import score_profile

    if bool(args.file) == bool(args.dataset):
        raise CliError("give the accounts FILE or --dataset (an id or name from `ingest`, or sample), not both")
    if args.positive and not args.outcome:
        raise CliError("--positive needs --outcome (the column it is the good value of)")
    icps = _read_icp_set(args.profile)
    profile = icps.profiles[0]
    root = Path(args.data_dir) if args.data_dir else data_dir()
    with tempfile.TemporaryDirectory(prefix="icp_onepager_") as tmp:
        if args.dataset:
            store, meta = _stored_dataset(root, args.dataset)
        else:
            store = DatasetStore(Path(tmp), new_token())
            meta = ingest_dataset(store, Path(args.file), Path(args.opportunities) if args.opportunities else None).meta
        specs = [ColumnSpec.from_dict(c) for c in meta["columns"]]
        accounts = AccountMatrix(lambda: store.open_dataset(meta["id"]), specs)
        result, binding = score_profile(accounts, profile)
        if binding.problems:
            print("warning: scoring without " + "; ".join(binding.problems), file=sys.stderr)
        outcome = _outcome_arg(args.outcome, args.positive) if args.outcome else None
        if len(icps.profiles) > 1:  # a page per ICP, the set's best fit on the first
            from .icpset import score_set
            from .onepager import build_set_onepager
            scored_set, _ = score_set(accounts, icps)
            page = build_set_onepager(accounts, scored_set, icps.profiles, meta["name"],
                                      [p.name for p in icps.profiles], outcome)
        else:
            page = build_onepager(accounts, result, profile, meta["name"], args.label or profile.name, outcome)
    if args.out:
        from .store import write_atomic
        write_atomic(Path(args.out), page.encode())
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(page)
        sys.stdout.flush()
    return 0


def _cmd_sql(args) -> int:
    from .engagement import score_engagement, set_engagement
    from .warehouse import SqlError, dbt_model, dbt_set_model, input_columns, profile_sql, set_sql

    icps = _read_icp_set(args.profile)
    thresholds = [dict(p.tier_rule.thresholds) for p in icps.profiles]
    mixed = [i for i, p in enumerate(icps.profiles) if p.tier_rule.mode == "mix"]
    e = set_engagement(icps.profiles)
    engagement = None
    if mixed and not args.file:
        raise CliError(f"the tiers of “{icps.profiles[mixed[0]].name}” come from a target mix: give FILE (--data) "
                       "to solve the tier lines on, or switch the profile to score thresholds")
    if mixed or (e is not None and args.file):
        import tempfile
        with tempfile.TemporaryDirectory(prefix="icp_sql_") as tmp:
            for i in mixed:
                _, result = _scored(Path(args.file), icps.profiles[i], tmp, False, "data file")
                thresholds[i] = result.thresholds
            if e is not None:  # the as-of day, count caps and level lines come from the data, as in the app
                accounts, _ = _scored(Path(args.file), icps.profiles[0], tmp, True, "data file")
                res = score_engagement(accounts, e)
                engagement = (e, res) if res is not None else None
    if e is not None and engagement is None:
        print("note: the engagement columns are left out: give FILE (--data) to fix the as-of date, count caps "
              "and level lines on", file=sys.stderr)
    try:
        if len(icps.profiles) == 1:
            p = icps.profiles[0]
            sql = (dbt_model(p, thresholds[0], engagement=engagement, dialect=args.dialect) if args.dbt
                   else profile_sql(p, thresholds[0], args.table, args.dialect, engagement=engagement))
        else:
            sql = (dbt_set_model(icps.names, icps.profiles, thresholds, engagement=engagement) if args.dbt
                   else set_sql(icps.names, icps.profiles, thresholds, args.table, args.dialect, engagement=engagement))
    except SqlError as exc:
        raise CliError(str(exc)) from None
    print(sql)
    inputs: dict[str, str] = {}
    for p in icps.profiles:
        inputs |= {c: k for c, k in input_columns(p).items() if c not in inputs}
    print(f"input columns: {', '.join(f'{c} ({k})' for c, k in inputs.items())}", file=sys.stderr)
    return 0


def _cmd_campaign(args) -> int:
    import json
    import tempfile

    from .campaign import CampaignError, compare_results, find_columns, read_campaign_results

    profile = _read_profile(args.profile)
    try:
        raw = read_campaign_results(Path(args.results), Path(args.results).name)  # CSV, Excel, any encoding
    except CampaignError as exc:
        raise CliError(str(exc)) from None
    with tempfile.TemporaryDirectory(prefix="icp_campaign_") as tmp:
        accounts, result = _scored(Path(args.results), profile, tmp, True, "results file")
    if len(raw) != accounts.n:  # row order = file order
        raise CliError("the results file must have one row per account of the campaign")
    group, response = find_columns(list(raw.columns))
    group = args.group or group or "group"
    response = args.response or response
    if not response:
        raise CliError("say which column holds the response (--response COLUMN)")
    try:
        c = compare_results(raw, group, response, in_icp=result.tier <= 1)
    except CampaignError as exc:
        raise CliError(str(exc)) from None
    print(json.dumps(c.to_dict(), indent=2) if args.json else
          f"profile: {profile.name}\ngroups from: {group if group in raw else 'the profile (tiers A+B vs the rest)'}; "
          f"response: {response}\n{c.to_dict()['verdict']}")
    return 0


def _add_onepager_parser(sub) -> None:
    one = sub.add_parser("onepager", help="the ICP one-pager (HTML, prints to PDF), as the Share page makes it")
    one.add_argument("file", nargs="?", help="accounts file: CSV/TSV, .xlsx or .parquet (or use --dataset)")
    one.add_argument("--dataset", help="a dataset in the data directory: its id or name (loaded with `ingest`), "
                                       "or sample")
    one.add_argument("--opportunities", help="opportunities file to roll up to FILE's accounts")
    one.add_argument("--profile", required=True, action="append",
                     help="ICP profile JSON, or an ICP set file (repeat for a set: a page per ICP, the set's "
                          "best-fit counts on the first)")
    one.add_argument("--outcome", help="what a good customer is for the evidence: won, retained, nps_promoter or "
                                       "a column (default: the dataset's default outcome, as in the app)")
    one.add_argument("--positive", help="the good value of the --outcome column")
    one.add_argument("--label", help="version label in the page header (default: the profile's name)")
    one.add_argument("--out", help="where to write the HTML (default: standard output)")
    one.set_defaults(func=_cmd_onepager)


def _add_ingest_parser(sub) -> None:
    """The `ingest` subcommand: load files as a dataset."""
    ingest = sub.add_parser("ingest", help="load an accounts file (and opportunities) as a dataset")
    ingest.add_argument("file", nargs="?", help="accounts file: CSV/TSV, .xlsx or .parquet (or --postgres)")
    ingest.add_argument("--postgres", metavar="TABLE_OR_QUERY",
                        help="read the accounts (or deals, contacts, lines) from PostgreSQL instead of a file: a table "
                             "(schema.table) or one SELECT query, run read-only")
    ingest.add_argument("--dsn", help="PostgreSQL connection string for --postgres (default: $ICP_PG_DSN); never stored")
    ingest.add_argument("--opportunities", help="opportunities/deals file to roll up to accounts")
    ingest.add_argument("--name", help="dataset name (default: the file name)")
    ingest.add_argument("--join", action="append", metavar="FILE",
                        help="a further file joined to accounts by id, domain or name (rolled up when one-to-many); "
                             "repeat for more files")
    ingest.add_argument("--enrich", action="append", metavar="FILE",
                        help="an enrichment file keyed by domain: fills blanks, never overwrites")
    ingest.add_argument("--shape", choices=["accounts", "deals", "contacts", "lines"],
                        help="what one row is (default: detected); deals, contacts and lines are rolled up "
                             "to one row per account")
    ingest.add_argument("--key", metavar="COLUMN", help="the column naming each row's account (default: detected)")
    ingest.add_argument("--sheet", help="Excel sheet to read (default: the one that looks like a data table)")
    ingest.add_argument("--header-row", type=int, metavar="N",
                        help="1-based line (CSV) or row (Excel) of the header (default: detected)")
    ingest.add_argument("--encoding", help="text encoding of a CSV, e.g. utf-8, cp1252, cp850 (default: detected)")
    ingest.add_argument("--json", action="store_true",
                        help="print the dataset's meta as one JSON document on stdout instead of the report")
    ingest.set_defaults(func=_cmd_ingest)


def _add_score_parser(sub) -> None:
    """The `score` subcommand: score a file with a profile."""
    score = sub.add_parser("score", help="score a file with an ICP profile; writes its columns plus ICP Score, Tier, Reasons, Flags, Next Step")
    score.add_argument("file", help="accounts file: CSV/TSV, .xlsx or .parquet (cleaned as on upload)")
    score.add_argument("--profile", required=True, action="append",
                       help="ICP profile JSON (saved or downloaded from the app), or an ICP set file; repeat it "
                            "to score several ICPs together (each account also gets its best-fit ICP)")
    score.add_argument("--out", help="output file (default: CSV on standard output)")
    score.add_argument("--format", choices=["csv", "xlsx", "parquet"],
                       help="output format (default: from --out's extension, else csv)")
    score.add_argument("--skip-missing-traits", action="store_true",
                       help="score with the traits whose column exists, warn about the others")
    score.set_defaults(func=_cmd_score)


def _add_sql_parser(sub) -> None:
    """The `sql` subcommand: the profile as warehouse SQL."""
    sql = sub.add_parser("sql", help="print the profile (or an ICP set) as one SQL query for a warehouse")
    sql.add_argument("--profile", required=True, action="append",
                     help="ICP profile JSON, or an ICP set file; repeat it for a set (adds icp_best_fit)")
    sql.add_argument("--dialect", default="duckdb", choices=["duckdb", "snowflake", "bigquery", "postgres", "spark"])
    sql.add_argument("--table", default="accounts", help="input table (db.schema.table allowed)")
    sql.add_argument("--data", dest="file", help="accounts file to solve target-mix tier lines on")
    sql.add_argument("--dbt", action="store_true",
                     help="print a dbt model (reads {{ ref('accounts') }}) in the --dialect of your warehouse")
    sql.set_defaults(func=_cmd_sql)


def _cmd_run_sql(args) -> int:
    from .engines import EngineError, run_spark, run_sql
    from .export import profile_version_label

    icps = _read_icp_set(args.profile)
    single = len(icps.profiles) == 1
    target = icps.profiles[0] if single else icps
    label = args.version_label or (profile_version_label(target.name, None) if single else _set_label(icps))
    try:
        if args.engine == "spark":
            r = run_spark(target, args.table, args.target, master=args.spark_master, version_label=label,
                          id_column=args.id_column)
        else:
            r = run_sql(target, args.engine, args.table, args.target, dsn=args.dsn, database=args.database,
                        version_label=label, id_column=args.id_column)
    except EngineError as exc:
        raise CliError(str(exc)) from None
    tiers = ", ".join(f"{t} {n:,}" for t, n in sorted(r.tiers.items()))
    print(f"scored {r.rows:,} rows on {r.engine} into {r.target} ({tiers})", file=sys.stderr)
    for name, lines in zip(icps.names, r.lines, strict=True):
        print(f"tier lines of “{name}”: " + ", ".join(f"{k} >= {v:g}" for k, v in lines.items()), file=sys.stderr)
    if r.best_fit is not None:
        print("best fit: " + ", ".join(f"{b} {n:,}" for b, n in sorted(r.best_fit.items())), file=sys.stderr)
    return 0


def _add_run_sql_parser(sub) -> None:
    """The `run-sql` subcommand: score a table where it lives and replace a target table atomically."""
    run = sub.add_parser("run-sql", help="score a table on PostgreSQL, DuckDB or Spark and write the scores to a table")
    run.add_argument("--profile", required=True, action="append",
                     help="ICP profile JSON, or an ICP set file; repeat it for a set (adds icp_best_fit and every "
                          "ICP's columns, suffixed _0, _1, ...)")
    run.add_argument("--engine", required=True, choices=["postgres", "duckdb", "spark"])
    run.add_argument("--table", required=True, help="input table (schema.table allowed; for Spark also a Parquet or "
                                                    "CSV path), one column per trait column (see `sql`: input columns)")
    run.add_argument("--target", required=True, help="table to (re)write with the scores, atomically (for Spark also "
                                                     "a Parquet path)")
    run.add_argument("--spark-master", default="local[*]", help="Spark master (default local[*]; a cluster URL)")
    run.add_argument("--dsn", help="PostgreSQL connection string (default: $ICP_PG_DSN)")
    run.add_argument("--database", help="DuckDB database file")
    run.add_argument("--id-column", help="the input column that identifies a row (default: the first)")
    run.add_argument("--version-label", help="icp_profile_version text (default: the profile's name)")
    run.set_defaults(func=_cmd_run_sql)


def _add_campaign_parser(sub) -> None:
    """The `campaign` subcommand: ICP group vs control response."""
    camp = sub.add_parser("campaign", help="compare a campaign's response in the ICP group and the control")
    camp.add_argument("results", help="results CSV: one row per account with its columns, a group column "
                                      "(ICP/target vs control) or a sent flag, and a response column")
    camp.add_argument("--profile", required=True, help="ICP profile JSON (splits sent accounts into ICP vs control "
                                                       "when there is no group column)")
    camp.add_argument("--group", help="group column (default: guessed, e.g. 'group')")
    camp.add_argument("--response", help="response column (default: guessed, e.g. 'responded')")
    camp.add_argument("--json", action="store_true", help="print the comparison as JSON")
    camp.set_defaults(func=_cmd_campaign)


def _add_tam_parser(sub) -> None:
    """The `tam` subcommand: TAM / SAM / SOM per segment."""
    tam = sub.add_parser("tam", help="TAM / SAM / SOM per segment, the market scored by the profile")
    tam.add_argument("file", help="customer accounts file (won accounts and ARR give penetration and ACV)")
    tam.add_argument("--profile", required=True, help="ICP profile JSON")
    tam.add_argument("--by", action="append", required=True,
                     help="segment dimension: tier, industry, country, region, employee_band, revenue_band or a "
                          "column; give twice for two dimensions")
    tam.add_argument("--market", help="market list file (default: the accounts file itself)")
    tam.add_argument("--acv", type=float, help="your ACV: the fallback for segments with too few customers")
    tam.add_argument("--acv-stat", choices=["median", "mean"], default="median")
    tam.add_argument("--min-customers", type=int, default=5, help="customers with ARR a segment needs for its own ACV")
    tam.add_argument("--share", type=float, default=10.0, help="attainable share of SAM in percent (SOM)")
    tam.add_argument("--skip-missing-traits", action="store_true")
    tam.add_argument("--out", help="write the table as CSV")
    tam.set_defaults(func=_cmd_tam)


def _add_suggest_backtest_parsers(sub) -> None:
    """The `suggest` and `backtest` subcommands (same data arguments)."""
    for cmd, helptext in (("suggest", "suggest traits and weights from the data; writes a profile"),
                          ("backtest", "backtest a profile on held-out accounts; prints a JSON report")):
        sp = sub.add_parser(cmd, help=helptext)
        sp.add_argument("file", help="accounts file: CSV/TSV, .xlsx or .parquet")
        sp.add_argument("--opportunities", help="opportunities file to roll up (outcome 'won' then counts deals)")
        sp.add_argument("--outcome", required=True,
                        help="what a good customer is: won, retained, nps_promoter, or a column (header or role)")
        sp.add_argument("--positive", help="the good value of the outcome column (Closed Won, Yes, TRUE, '>=9', ...); "
                                           "default: won / retained / true")
        if cmd == "suggest":
            sp.add_argument("--max-traits", type=int, default=12, help="at most this many traits (1-12, default 12)")
            sp.add_argument("--out", required=True, help="where to write the suggested profile JSON")
            sp.add_argument("--allow-column", action="append", metavar="HEADER",
                            help="include a column flagged as leaking the outcome (repeatable; flags go to stderr)")
            sp.set_defaults(func=_cmd_suggest)
        else:
            sp.add_argument("--profile", required=True, help="ICP profile JSON")
            sp.add_argument("--include-insufficient", action="store_true",
                            help="also judge accounts with insufficient data (left out by default)")
            sp.set_defaults(func=_cmd_backtest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m icp_core", description="ICP Explorer command line")
    parser.add_argument("--data-dir", help="data directory (default: $ICP_DATA_DIR or ./.icp_data)")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_ingest_parser(sub)
    _add_score_parser(sub)
    _add_sql_parser(sub)
    _add_run_sql_parser(sub)
    _add_campaign_parser(sub)
    _add_tam_parser(sub)
    _add_onepager_parser(sub)
    _add_suggest_backtest_parsers(sub)
    _add_lookalikes_parser(sub)
    _add_calibration_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (IngestError, CliError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into `head`
        return 0
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # last line of defence: one line, no traceback
        print(f"error: unexpected failure ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
