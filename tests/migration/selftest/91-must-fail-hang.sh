# shellcheck shell=bash
# Negative self-test of the harness: a scenario that hangs past its timeout
# must be killed and reported as "FAIL ... (timeout ...)".
# timeout: 5

on_src 'sleep 600'
