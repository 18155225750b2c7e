#ifndef QKPROBE_CBLAS_SHIM_H
#define QKPROBE_CBLAS_SHIM_H
#include <cblas.h>
#endif
