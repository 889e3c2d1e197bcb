/* libpfm4's examples include <perfmon/err.h>, which Debian's libpfm4-dev does not ship: glibc's
   <err.h> has the same errx/warnx. */
#include <err.h>
