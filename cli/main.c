/* wharfctl entry point; everything else is in ctl.c so tests can run it. */
#include "ctl.h"

int
main(int argc, char **argv)
{
    return ctl_main(argc, argv, stdout, stderr);
}
