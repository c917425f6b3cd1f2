"""`tally-agent vm`: measure a virtual machine from inside and post `vms` records.

procfs      reads /proc/stat, /proc/uptime, /proc/net/dev, /proc/meminfo and the boot id
interval    turns two samples into one interval of CPU-second and byte deltas (reboots, resets)
statefile   the previous sample (and per-boot caches) kept between cron runs, written atomically
identity    which instance this is: config, config drive or a metadata service (aws, azure, gcp,
            openstack), cached per boot
benchmark   the benchmark per core: configured, or measured once per boot by a command
command     the `vm` run: sample, spool the record, deliver through the agent's spool
"""
