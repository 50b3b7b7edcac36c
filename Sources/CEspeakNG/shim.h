#ifndef VOX_CESPEAKNG_SHIM_H
#define VOX_CESPEAKNG_SHIM_H
#include <espeak-ng/speak_lib.h>
#endif
