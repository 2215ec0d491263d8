/* The C-variadic entry points of the OpenFX parameter and message suites. Each reads its
 * arguments with va_arg according to the parameter's type (asked of Rust), then forwards them one
 * component at a time to non-variadic Rust callbacks (see params.rs and suites.rs). */
#include <stdarg.h>
#include <stdio.h>

typedef int OfxStatus;
typedef void *Handle;

/* kind: 0 = int-like (int, bool, choice), 1 = double, 2 = string, -1 = unknown handle */
extern int hs_param_layout(Handle param, int *components);
extern OfxStatus hs_param_get_int(Handle param, double time, int has_time, int index, int *out);
extern OfxStatus hs_param_get_double(Handle param, double time, int has_time, int index, double *out);
extern OfxStatus hs_param_get_string(Handle param, double time, int has_time, char **out);
extern OfxStatus hs_param_set_int(Handle param, int index, int value);
extern OfxStatus hs_param_set_double(Handle param, int index, double value);
extern OfxStatus hs_param_set_string(Handle param, const char *value);
extern OfxStatus hs_param_changed(Handle param, double time);
extern OfxStatus hs_message(Handle effect, const char *type, const char *id, const char *text, int persistent);

enum { STAT_OK = 0, STAT_ERR_BAD_HANDLE = 9 };

static OfxStatus get_values(Handle param, double time, int has_time, va_list ap) {
    int n = 0;
    int kind = hs_param_layout(param, &n);
    OfxStatus st = STAT_OK;
    if (kind < 0) return STAT_ERR_BAD_HANDLE;
    if (kind == 2) return hs_param_get_string(param, time, has_time, va_arg(ap, char **));
    for (int i = 0; i < n && st == STAT_OK; i++) {
        if (kind == 0) st = hs_param_get_int(param, time, has_time, i, va_arg(ap, int *));
        else st = hs_param_get_double(param, time, has_time, i, va_arg(ap, double *));
    }
    return st;
}

static OfxStatus set_values(Handle param, va_list ap) {
    int n = 0;
    int kind = hs_param_layout(param, &n);
    OfxStatus st = STAT_OK;
    if (kind < 0) return STAT_ERR_BAD_HANDLE;
    if (kind == 2) return hs_param_set_string(param, va_arg(ap, const char *));
    for (int i = 0; i < n && st == STAT_OK; i++) {
        /* int and bool are promoted to int, floats to double, as for any variadic call */
        if (kind == 0) st = hs_param_set_int(param, i, va_arg(ap, int));
        else st = hs_param_set_double(param, i, va_arg(ap, double));
    }
    return st;
}

OfxStatus hs_paramGetValue(Handle param, ...) {
    va_list ap; va_start(ap, param);
    OfxStatus st = get_values(param, 0.0, 0, ap);
    va_end(ap); return st;
}

OfxStatus hs_paramGetValueAtTime(Handle param, double time, ...) {
    va_list ap; va_start(ap, time);
    OfxStatus st = get_values(param, time, 1, ap);
    va_end(ap); return st;
}

/* Our parameters are not animated: derivatives are zero and integrals are value * duration. */
OfxStatus hs_paramGetDerivative(Handle param, double time, ...) {
    int n = 0;
    int kind = hs_param_layout(param, &n);
    if (kind != 1) return STAT_ERR_BAD_HANDLE;
    va_list ap; va_start(ap, time);
    for (int i = 0; i < n; i++) *va_arg(ap, double *) = 0.0;
    va_end(ap); return STAT_OK;
}

OfxStatus hs_paramGetIntegral(Handle param, double t1, double t2, ...) {
    int n = 0;
    int kind = hs_param_layout(param, &n);
    OfxStatus st = STAT_OK;
    if (kind != 1) return STAT_ERR_BAD_HANDLE;
    va_list ap; va_start(ap, t2);
    for (int i = 0; i < n && st == STAT_OK; i++) {
        double *out = va_arg(ap, double *);
        st = hs_param_get_double(param, t1, 1, i, out);
        *out *= (t2 - t1);
    }
    va_end(ap); return st;
}

OfxStatus hs_paramSetValue(Handle param, ...) {
    va_list ap; va_start(ap, param);
    OfxStatus st = set_values(param, ap);
    va_end(ap);
    if (st == STAT_OK) st = hs_param_changed(param, 0.0);
    return st;
}

OfxStatus hs_paramSetValueAtTime(Handle param, double time, ...) {
    va_list ap; va_start(ap, time);
    OfxStatus st = set_values(param, ap);
    va_end(ap);
    if (st == STAT_OK) st = hs_param_changed(param, time);
    return st;
}

static OfxStatus format_message(Handle effect, const char *type, const char *id, int persistent,
                                const char *format, va_list ap) {
    char text[4096];
    if (!format) format = "";
    vsnprintf(text, sizeof text, format, ap);
    return hs_message(effect, type ? type : "", id ? id : "", text, persistent);
}

OfxStatus hs_message_v(Handle effect, const char *type, const char *id, const char *format, ...) {
    va_list ap; va_start(ap, format);
    OfxStatus st = format_message(effect, type, id, 0, format, ap);
    va_end(ap); return st;
}

OfxStatus hs_persistent_message_v(Handle effect, const char *type, const char *id, const char *format, ...) {
    va_list ap; va_start(ap, format);
    OfxStatus st = format_message(effect, type, id, 1, format, ap);
    va_end(ap); return st;
}
