/*
 * gp_backend_module.c: the one file that talks to the dynamic loader
 * (dlopen/dlsym) and to the NVIDIA driver library (libcuda.so.1, through
 * dlsym: the engine includes no CUDA header and links no CUDA library).
 *
 * Why a module: linking the CUDA backend into libgalpost made every
 * process map the CUDA runtime, cuBLAS and cuDNN at start-up, about
 * 150 MB of resident memory even on the CPU backend with no GPU present
 * (bench/RESULTS.md, (d)).  Now only a process that asks for CUDA and
 * whose driver reports a device loads them.
 *
 * Modules and libcuda are never unloaded: the CUDA libraries keep threads
 * and atexit handlers that must not outlive their code.
 */
#include "config.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gp_backend.h"

#ifndef GP_PKGLIBDIR
#define GP_PKGLIBDIR "/usr/local/lib/galpost"
#endif

/* ---------------------------------------------------------- modules */

/* Loaded modules, by file name (a process loads one or two). */
#define GP_MODULES_MAX 8
static struct { char *path; const gp_backend_module *entry; } modules[GP_MODULES_MAX];
static int nmodules;
static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;

/* Check an entry against this library; on mismatch fill err. */
static int check_entry(const char *path, const gp_backend_module *m, gp_error *err)
{
    if (m->abi != GP_BACKEND_ABI)
        return GP_FAIL(err, GP_ERR_BACKEND,
                       "backend module %s: backend ABI %d, this libgalpost has ABI %d "
                       "(install the module and the library from the same galpost)",
                       path, m->abi, GP_BACKEND_ABI);
    if (m->ops_size != sizeof(gp_backend_ops) || m->backend_size != sizeof(gp_backend) ||
        m->error_size != sizeof(gp_error))
        return GP_FAIL(err, GP_ERR_BACKEND,
                       "backend module %s: structure sizes %u/%u/%u differ from this "
                       "libgalpost's %u/%u/%u (ops/backend/error; built from another source)",
                       path, m->ops_size, m->backend_size, m->error_size,
                       (unsigned)sizeof(gp_backend_ops), (unsigned)sizeof(gp_backend),
                       (unsigned)sizeof(gp_error));
    if (!m->version || strcmp(m->version, PACKAGE_VERSION) != 0)
        return GP_FAIL(err, GP_ERR_BACKEND,
                       "backend module %s: built for galpost %.40s, this libgalpost is %s",
                       path, m->version ? m->version : "(unknown)", PACKAGE_VERSION);
    if (!m->open || !m->name)
        return GP_FAIL(err, GP_ERR_BACKEND, "backend module %s: entry without a name or open function",
                       path);
    return GP_OK;
}

int gp_backend_module_load(const char *path, const gp_backend_module **out, gp_error *err)
{
    if (!path || !out) return GP_FAIL(err, GP_ERR_ARG, "gp_backend_module_load: NULL argument");
    *out = NULL;
    pthread_mutex_lock(&modules_lock);
    for (int i = 0; i < nmodules; i++)
        if (strcmp(modules[i].path, path) == 0) {
            *out = modules[i].entry;
            pthread_mutex_unlock(&modules_lock);
            return GP_OK;
        }
    int st = GP_OK;
    /* RTLD_LOCAL: the module's symbols (and the CUDA libraries') stay out
     * of the process's global namespace; RTLD_NOW: a missing library or
     * symbol is reported here, not at the first call. */
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        st = GP_FAIL(err, GP_ERR_BACKEND, "backend module %s cannot be loaded: %s", path,
                     e ? e : "unknown dlopen error");
        goto done;
    }
    dlerror();
    const gp_backend_module *m = (const gp_backend_module *)dlsym(h, GP_BACKEND_MODULE_SYMBOL);
    if (!m) {
        const char *e = dlerror();
        st = GP_FAIL(err, GP_ERR_BACKEND, "backend module %s: no symbol %s (not a galpost backend module): %s",
                     path, GP_BACKEND_MODULE_SYMBOL, e ? e : "NULL");
        dlclose(h);  /* nothing of it ran but its constructors */
        goto done;
    }
    if ((st = check_entry(path, m, err))) {
        dlclose(h);
        goto done;
    }
    char *copy = strdup(path);
    if (nmodules < GP_MODULES_MAX && copy) {
        modules[nmodules].path = copy;
        modules[nmodules].entry = m;
        nmodules++;
    } else {
        free(copy);  /* not remembered: loaded again (same handle) next time */
    }
    *out = m;
done:
    pthread_mutex_unlock(&modules_lock);
    return st;
}

const char *gp_backend_cuda_module_path(void)
{
    const char *e = getenv("GALPOST_CUDA_MODULE");
    return e && *e ? e : GP_PKGLIBDIR "/galpost-cuda.so";
}

/* ---------------------------------------------------- NVIDIA driver */

/* The few driver API entry points the probe needs (cuda.h's types). */
typedef int (*cu_init_fn)(unsigned int flags);
typedef int (*cu_count_fn)(int *count);
typedef int (*cu_errstr_fn)(int result, const char **str);

static pthread_mutex_t driver_lock = PTHREAD_MUTEX_INITIALIZER;
static void *driver;          /* libcuda.so.1, once found */
static int driver_init = -1;  /* cuInit's result, once called */

int gp_backend_cuda_probe(int device, gp_error *err)
{
    int st = GP_OK;
    pthread_mutex_lock(&driver_lock);
    if (!driver) {
        driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!driver) {
            const char *e = dlerror();
            st = GP_FAIL(err, GP_ERR_BACKEND,
                         "no usable CUDA device: the NVIDIA driver library cannot be loaded (%s)",
                         e ? e : "libcuda.so.1");
            goto done;
        }
    }
    cu_init_fn cu_init = (cu_init_fn)(void (*)(void))dlsym(driver, "cuInit");
    cu_count_fn cu_count = (cu_count_fn)(void (*)(void))dlsym(driver, "cuDeviceGetCount");
    cu_errstr_fn cu_name = (cu_errstr_fn)(void (*)(void))dlsym(driver, "cuGetErrorName");
    cu_errstr_fn cu_text = (cu_errstr_fn)(void (*)(void))dlsym(driver, "cuGetErrorString");
    if (!cu_init || !cu_count) {
        st = GP_FAIL(err, GP_ERR_BACKEND,
                     "no usable CUDA device: libcuda.so.1 lacks cuInit or cuDeviceGetCount");
        goto done;
    }
    /* cuInit's answer does not change within a process */
    if (driver_init < 0) driver_init = cu_init(0);
    int count = 0, r = driver_init ? driver_init : cu_count(&count);
    if (r) {
        const char *name = NULL, *text = NULL;
        if (cu_name) cu_name(r, &name);
        if (cu_text) cu_text(r, &text);
        st = GP_FAIL(err, GP_ERR_BACKEND, "no usable CUDA device: %s failed: %s (%s)",
                     driver_init ? "cuInit" : "cuDeviceGetCount",
                     text ? text : "unknown error", name ? name : "?");
        goto done;
    }
    if (count < 1)
        st = GP_FAIL(err, GP_ERR_BACKEND, "no CUDA device present");
    else if (device >= count)
        st = GP_FAIL(err, GP_ERR_BACKEND, "CUDA device %d requested but only %d device%s present",
                     device, count, count == 1 ? " is" : "s are");
done:
    pthread_mutex_unlock(&driver_lock);
    return st;
}
