"""Lookout on Kafka (SPEC §6): topics, the worker, and `lookout replay --kafka`.

    topics.py     topic names, creation with defaults, partition counts (kafka-python admin)
    partition.py  one partition's engine state: run a slice of messages, persist by person
    worker.py     the consumer-group member: batches from `{prefix}.events`/`.actions` through
                  the engine, alert updates out, state checkpoints in compacted changelogs
    replay.py     a JSONL feed onto `{prefix}.events` (kafka-python), and collecting the alerts
    cli.py        `lookout worker`, `lookout kafka create-topics`, `lookout replay --kafka`
    officer.py    `lookout run --kafka`: the officers' service in front of the workers
    alerts_reader.py  `{prefix}.alerts` into that service's SQLite store

Every partition runs the same `Engine.process` as `lookout replay`; only where events come from
and where state is kept differ.
"""
