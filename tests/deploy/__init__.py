"""Static checks on deploy/, quick and offline. The readers are in ``deploy_files``, the command line each packaging
runs in ``deploy_commands``, the checker for those commands in ``command_checks`` and the environment each process
gets in ``process_envs``; each ``test_*`` module holds the checks of one concern."""
