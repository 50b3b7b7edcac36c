#ifndef VOX_CONNXRUNTIME_SHIM_H
#define VOX_CONNXRUNTIME_SHIM_H
// Headers only: the shared library is opened at run time (dlopen) by VoxONNX.
#include <onnxruntime_c_api.h>
#include <dlfcn.h>

typedef const OrtApiBase *(*VoxOrtGetApiBaseFn)(void);

/// Calls the `OrtGetApiBase` found with dlsym.
static inline const OrtApi *vox_ort_get_api(void *getApiBaseSymbol, uint32_t version) {
    const OrtApiBase *base = ((VoxOrtGetApiBaseFn)getApiBaseSymbol)();
    return base ? base->GetApi(version) : (const OrtApi *)0;
}
static inline const char *vox_ort_version_string(void *getApiBaseSymbol) {
    const OrtApiBase *base = ((VoxOrtGetApiBaseFn)getApiBaseSymbol)();
    return base ? base->GetVersionString() : "";
}
#endif
