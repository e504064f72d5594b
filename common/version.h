/* wharf's version: one number for every part (wharfd, wharf-agent,
 * wharfctl), shown by --version, in User-Agent and Server headers, and in
 * what the agent reports to the orchestrator. */
#ifndef WHARF_VERSION_H
#define WHARF_VERSION_H

#define WHARF_VERSION "0.1.0"

#endif
