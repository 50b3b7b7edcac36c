#ifndef VOX_CAUDIOIO_SHIM_H
#define VOX_CAUDIOIO_SHIM_H
#include <sndfile.h>
#include <soxr.h>
#include <rubberband/rubberband-c.h>
#endif
