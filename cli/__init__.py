"""kafkaops.cli"""


def main() -> None:
    """The `kafkaops` executable (pyproject.toml's [project.scripts]).

    Python's cyclic garbage collector is off while a command starts: `kafkaops console`
    makes about 100,000 objects before its first screen is painted and little garbage, yet
    the collector ran some 140 times on the way, 0.035-0.04 s of CPU, a tenth of the start
    (docs/benchmarks.md, "console start"). Every other command turns it on again as soon as
    its arguments are parsed (cli/main.py `run`), the console a little after its first
    screen is up (console/app.py `KafkaOpsApp.on_mount`).
    """
    import gc

    gc.disable()
    from kafkaops.cli.main import main as cli_main

    cli_main()
