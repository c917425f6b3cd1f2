"""`sacct --parsable2` lines for the Slurm parser: the header of the fields the agent asks for, and rows."""

from __future__ import annotations

HEADER = (
    "JobID|JobName|User|Group|Account|Partition|QOS|Submit|Start|End|Elapsed|TotalCPU|NCPUS|NNodes|"
    "NodeList|MaxRSS|ReqMem|AllocTRES|ConsumedEnergyRaw|State|ExitCode"
)


def row(
    job: str,
    state: str = "COMPLETED",
    name: str = "job",
    start: str = "2024-03-01T10:00:00",
    end: str = "2024-03-01T11:00:00",
    elapsed: str = "01:00:00",
    cpu: str = "00:30:00",
    ncpus: str = "4",
    rss: str = "",
    req: str = "4000Mc",
    tres: str = "",
    exit_code: str = "0:0",
) -> str:
    return (
        f"{job}|{name}|alice|physics|proj1|gpu|normal|2024-03-01T09:00:00|{start}|{end}|{elapsed}|{cpu}|"
        f"{ncpus}|1|node01|{rss}|{req}|{tres}|3600|{state}|{exit_code}"
    )
