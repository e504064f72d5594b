/*
 * The agent's JSON config file (--config FILE), read once at start:
 *
 *   { "processes": [ SPEC, ... ],          proc.h's spec, each started
 *                                          unless "start": false
 *     "errorPatterns": ["ERROR", ...],     plain-text error patterns
 *                                          (replace the default ones)
 *     "fatalRestart": true }               the fatal-error rule (E10)
 *
 * Unknown members are refused, so that a typo does not pass silently.
 */
#ifndef AGENT_APPCONFIG_H
#define AGENT_APPCONFIG_H

#include <stddef.h>

struct agent;

/* Reads and applies the file: creates its instances (not started yet;
 * *autostart gets a bit per instance index to start). Returns 0 or -1
 * with a message in err. */
int agent_appconfig_load(struct agent *agent, const char *path,
                         unsigned long long *autostart, char *err,
                         size_t errlen);

#endif
