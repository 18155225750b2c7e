#ifndef QKPROBE_CHDF5_SHIM_H
#define QKPROBE_CHDF5_SHIM_H
// HDF5's type and flag constants are macros (often over `_g` globals that are -1 until
// H5open() runs). Swift cannot import them, and Swift 6 rejects the mutable globals, so
// each one is read through a small inline function that opens the library first.
#include <hdf5.h>
#include <hdf5_hl.h>  // dimension scales (H5DS), from the high-level library

// Opens the library without registering its exit-time cleanup. HDF5 1.10 leaves a file whose
// close failed (e.g. on a full disk) half-freed, and that cleanup then crashes the process at
// exit. qkprobe flushes explicitly after every write, so the cleanup has nothing to save.
// H5dont_atexit only has an effect before the library is first opened, so every entry point
// into HDF5 goes through here first.
static inline void qk_H5open(void) { H5dont_atexit(); H5open(); }

static inline hid_t qk_H5T_NATIVE_FLOAT(void)  { qk_H5open(); return H5T_NATIVE_FLOAT; }
static inline hid_t qk_H5T_NATIVE_DOUBLE(void) { qk_H5open(); return H5T_NATIVE_DOUBLE; }
static inline hid_t qk_H5T_NATIVE_INT8(void)   { qk_H5open(); return H5T_NATIVE_INT8; }
static inline hid_t qk_H5T_NATIVE_UINT8(void)  { qk_H5open(); return H5T_NATIVE_UINT8; }
static inline hid_t qk_H5T_NATIVE_INT16(void)  { qk_H5open(); return H5T_NATIVE_INT16; }
static inline hid_t qk_H5T_NATIVE_INT32(void)  { qk_H5open(); return H5T_NATIVE_INT32; }
static inline hid_t qk_H5T_NATIVE_INT64(void)  { qk_H5open(); return H5T_NATIVE_INT64; }
static inline hid_t qk_H5T_C_S1(void)          { qk_H5open(); return H5T_C_S1; }
static inline hid_t qk_H5T_STD_I32LE(void)     { qk_H5open(); return H5T_STD_I32LE; }
static inline hid_t qk_H5T_IEEE_F32LE(void)    { qk_H5open(); return H5T_IEEE_F32LE; }
static inline hid_t qk_H5T_STD_I8LE(void)      { qk_H5open(); return H5T_STD_I8LE; }
static inline hid_t qk_H5T_STD_U8LE(void)      { qk_H5open(); return H5T_STD_U8LE; }
static inline hid_t qk_H5T_STD_I16LE(void)     { qk_H5open(); return H5T_STD_I16LE; }
static inline hid_t qk_H5T_STD_I64LE(void)     { qk_H5open(); return H5T_STD_I64LE; }
static inline hid_t qk_H5T_IEEE_F64LE(void)    { qk_H5open(); return H5T_IEEE_F64LE; }
static inline hid_t qk_H5P_GROUP_CREATE(void)  { qk_H5open(); return H5P_GROUP_CREATE; }
static inline hid_t qk_H5E_DEFAULT(void)       { return H5E_DEFAULT; }
static inline hid_t qk_H5P_DEFAULT(void)       { return H5P_DEFAULT; }
static inline hid_t qk_H5P_FILE_ACCESS(void)   { qk_H5open(); return H5P_FILE_ACCESS; }
static inline hid_t qk_H5P_DATASET_CREATE(void){ qk_H5open(); return H5P_DATASET_CREATE; }
static inline hid_t qk_H5P_LINK_CREATE(void)   { qk_H5open(); return H5P_LINK_CREATE; }
static inline hid_t qk_H5S_ALL(void)           { return H5S_ALL; }
static inline hsize_t qk_H5S_UNLIMITED(void)   { return H5S_UNLIMITED; }
static inline unsigned qk_H5F_ACC_TRUNC(void)  { return H5F_ACC_TRUNC; }
static inline unsigned qk_H5F_ACC_EXCL(void)   { return H5F_ACC_EXCL; }
static inline unsigned qk_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned qk_H5F_ACC_RDWR(void)   { return H5F_ACC_RDWR; }
static inline size_t qk_H5T_VARIABLE(void)     { return H5T_VARIABLE; }

#endif
