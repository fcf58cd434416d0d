/* llmtap.collector._wire: OTLP requests read straight from their wire bytes.
 *
 * Processors read a few attributes of every span. Through the protobuf runtime each KeyValue read makes a
 * Python object (~0.25 us, ~30 per GenAI span): most of what pricing a span or counting it cost. These walk
 * the bytes once per request and return only what their caller needs: per GenAI span the cost processor's
 * prices (scan_usage) and the genai_metrics connector's labels, measures and record (scan_calls); the content
 * to redact (content_text); llm_calls rows from call records (call_rows). Field numbers are those of
 * opentelemetry-proto's trace, logs, common and resource protos. See wire.py for the Python side;
 * tests/test_wire.py checks it against the protobuf runtime.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} Buf;

typedef struct {
    uint32_t number;
    int wire_type;
    uint64_t scalar; /* varint, fixed64 or fixed32 */
    Buf bytes;       /* length-delimited */
} Field;

static int read_varint(Buf *b, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && b->p < b->end; shift += 7) {
        uint8_t c = *b->p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static uint64_t little_endian(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* The next field of a message; 1 at its end, -1 on malformed input. */
static int next_field(Buf *b, Field *f) {
    uint64_t tag, length;
    if (b->p >= b->end) return 1;
    if (read_varint(b, &tag)) return -1;
    f->number = (uint32_t)(tag >> 3);
    f->wire_type = (int)(tag & 7);
    switch (f->wire_type) {
    case 0:
        return read_varint(b, &f->scalar);
    case 1:
        if (b->end - b->p < 8) return -1;
        f->scalar = little_endian(b->p, 8);
        b->p += 8;
        return 0;
    case 5:
        if (b->end - b->p < 4) return -1;
        f->scalar = little_endian(b->p, 4);
        b->p += 4;
        return 0;
    case 2:
        if (read_varint(b, &length) || (uint64_t)(b->end - b->p) < length) return -1;
        f->bytes.p = b->p;
        f->bytes.end = b->p + length;
        b->p += length;
        return 0;
    default: /* groups: not in OTLP */
        return -1;
    }
}

static PyObject *malformed(void) {
    PyErr_SetString(PyExc_ValueError, "not a valid ExportTraceServiceRequest");
    return NULL;
}

static PyObject *decode_string(Buf s) {
    return PyUnicode_DecodeUTF8((const char *)s.p, s.end - s.p, "replace");
}

static PyObject *any_value(Buf b);

/* A KeyValue's key and value bytes (NULL pointers where absent); -1 on malformed input. */
static int key_value(Buf b, Buf *key, Buf *value) {
    Field f;
    int r;
    key->p = key->end = value->p = value->end = NULL;
    while ((r = next_field(&b, &f)) == 0) {
        if (f.wire_type != 2) continue;
        if (f.number == 1) *key = f.bytes;
        else if (f.number == 2) *value = f.bytes;
    }
    return r < 0 ? -1 : 0;
}

/* The wire type of each AnyValue field: string, bool, int, double, array, kvlist, bytes. A field with another
 * wire type is an unknown field to the protobuf runtime, which keeps it: it is skipped here too. */
static const int ANY_VALUE_WIRE_TYPES[8] = {-1, 2, 0, 0, 1, 2, 2, 2};

/* An AnyValue as attributes.value_of makes it: str, bool, int, float, list, dict, bytes as hex, unset None. */
static PyObject *any_value(Buf b) {
    Field f;
    int r;
    Field last = {0};
    int found = 0;
    while ((r = next_field(&b, &f)) == 0) {
        if (f.number >= 1 && f.number <= 7 && f.wire_type == ANY_VALUE_WIRE_TYPES[f.number]) {
            last = f;
            found = 1;
        }
    }
    if (r < 0) return malformed();
    if (!found) Py_RETURN_NONE;
    switch (last.number) {
    case 1:
        return decode_string(last.bytes);
    case 2:
        return PyBool_FromLong(last.scalar != 0);
    case 3:
        return PyLong_FromLongLong((long long)(int64_t)last.scalar);
    case 4: {
        double d;
        memcpy(&d, &last.scalar, sizeof d);
        return PyFloat_FromDouble(d);
    }
    case 5: { /* ArrayValue { repeated AnyValue values = 1; } */
        PyObject *list = PyList_New(0);
        Buf items = last.bytes;
        if (list == NULL) return NULL;
        while ((r = next_field(&items, &f)) == 0) {
            if (f.number != 1 || f.wire_type != 2) continue;
            PyObject *item = any_value(f.bytes);
            if (item == NULL || PyList_Append(list, item) < 0) {
                Py_XDECREF(item);
                Py_DECREF(list);
                return NULL;
            }
            Py_DECREF(item);
        }
        if (r < 0) {
            Py_DECREF(list);
            return malformed();
        }
        return list;
    }
    case 6: { /* KeyValueList { repeated KeyValue values = 1; } */
        PyObject *dict = PyDict_New();
        Buf items = last.bytes;
        if (dict == NULL) return NULL;
        while ((r = next_field(&items, &f)) == 0) {
            Buf key, value;
            if (f.number != 1 || f.wire_type != 2) continue;
            if (key_value(f.bytes, &key, &value) < 0) {
                Py_DECREF(dict);
                return malformed();
            }
            PyObject *k = key.p ? decode_string(key) : PyUnicode_FromString("");
            PyObject *v = value.p ? any_value(value) : (Py_INCREF(Py_None), Py_None);
            if (k == NULL || v == NULL || PyDict_SetItem(dict, k, v) < 0) {
                Py_XDECREF(k);
                Py_XDECREF(v);
                Py_DECREF(dict);
                return NULL;
            }
            Py_DECREF(k);
            Py_DECREF(v);
        }
        if (r < 0) {
            Py_DECREF(dict);
            return malformed();
        }
        return dict;
    }
    case 7: {
        static const char digits[] = "0123456789abcdef";
        Py_ssize_t n = last.bytes.end - last.bytes.p;
        PyObject *hex = PyUnicode_New(2 * n, 127);
        if (hex == NULL) return NULL;
        Py_UCS1 *out = PyUnicode_1BYTE_DATA(hex);
        for (Py_ssize_t i = 0; i < n; i++) {
            out[2 * i] = (Py_UCS1)digits[last.bytes.p[i] >> 4];
            out[2 * i + 1] = (Py_UCS1)digits[last.bytes.p[i] & 15];
        }
        return hex;
    }
    }
    return malformed();
}

/* The requested keys, as an open-addressed table of their UTF-8 bytes. */
#define SLOTS 256
typedef struct {
    const char *bytes;
    Py_ssize_t length;
    PyObject *key; /* borrowed from the caller's dict or tuple */
    int copy;
    int role;      /* role_table: the key's place in the caller's `roles`; -1 for a key that has none */
} Wanted;

typedef struct {
    Wanted slots[SLOTS];
} KeyTable;

/* A slot for a key from its length and three of its bytes, not all of them: a span's ~30 keys are looked up
 * per span, and the table's keys (fewer than half its slots) differ in these, or are told apart by memcmp. */
static uint32_t hash_bytes(const uint8_t *p, Py_ssize_t n) {
    if (n == 0) return 0;
    uint32_t h = ((uint32_t)n * 2654435761u) ^ ((uint32_t)p[n - 1] * 97u) ^ ((uint32_t)p[n / 2] * 7919u) ^
                 ((uint32_t)p[n * 3 / 4] * 131u);
    return h ^ (h >> 16);
}

/* The slot of key `key` in `t`: the one holding it, else the empty one where it goes. */
static Wanted *slot_of(const KeyTable *t, Buf key) {
    Py_ssize_t n = key.end - key.p;
    uint32_t i = hash_bytes(key.p, n) % SLOTS;
    while (t->slots[i].bytes != NULL && !(t->slots[i].length == n && memcmp(t->slots[i].bytes, key.p, n) == 0))
        i = (i + 1) % SLOTS;
    return (Wanted *)&t->slots[i];
}

/* `key`'s slot in `t`, filled in as not copied and of no role if it was empty; NULL with an exception set. */
static Wanted *put_key(KeyTable *t, PyObject *key) {
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(key, &n);
    if (s == NULL) return NULL;
    Wanted *w = slot_of(t, (Buf){(const uint8_t *)s, (const uint8_t *)s + n});
    if (w->bytes == NULL) *w = (Wanted){s, n, key, 0, -1};
    return w;
}

static int build_table(KeyTable *t, PyObject *keys) {
    PyObject *key, *copy;
    Py_ssize_t pos = 0;
    memset(t, 0, sizeof *t);
    if (PyDict_GET_SIZE(keys) > SLOTS / 2) {
        PyErr_SetString(PyExc_ValueError, "too many keys");
        return -1;
    }
    while (PyDict_Next(keys, &pos, &key, &copy)) {
        Wanted *w = put_key(t, key);
        if (w == NULL) return -1;
        w->copy = PyObject_IsTrue(copy) == 1;
    }
    return 0;
}

static const Wanted *lookup(const KeyTable *t, Buf key) {
    const Wanted *w = slot_of(t, key);
    return w->bytes != NULL ? w : NULL;
}

/* Each item of an OTLP export request, in order: resource_* = 1 -> scope_* = 2 -> spans or log_records = 2
 * (the same field numbers for traces and logs). `visit` gets the item's bytes and where it is (resource, scope,
 * item indexes); it returns 0 to go on, 1 to stop, -1 on an error it has raised. `enter`, if any, gets each
 * resource_* message's bytes before its items, and returns 0 or -1 like `visit`. Returns 0, or -1 with an
 * exception set (malformed bytes included). */
typedef int (*Visit)(Buf item, const Py_ssize_t where[3], void *context);
typedef int (*Enter)(Buf resource, void *context);

static int each_item_entering(Buf request, Enter enter, Visit visit, void *context) {
    Field rs, ss, it;
    int r1, r2 = 0, r3 = 0;
    Py_ssize_t where[3] = {-1, -1, -1};
    while ((r1 = next_field(&request, &rs)) == 0) {
        if (rs.number != 1 || rs.wire_type != 2) continue;
        where[0]++;
        where[1] = -1;
        if (enter != NULL && enter(rs.bytes, context) < 0) return -1;
        Buf resource = rs.bytes;
        while ((r2 = next_field(&resource, &ss)) == 0) {
            if (ss.number != 2 || ss.wire_type != 2) continue;
            where[1]++;
            where[2] = -1;
            Buf scope = ss.bytes;
            while ((r3 = next_field(&scope, &it)) == 0) {
                if (it.number != 2 || it.wire_type != 2) continue;
                where[2]++;
                int next = visit(it.bytes, where, context);
                if (next != 0) return next < 0 ? -1 : 0;
            }
            if (r3 < 0) break;
        }
        if (r2 < 0 || r3 < 0) break;
    }
    if (r1 == 1) return 0;
    malformed();
    return -1;
}

static int each_item(Buf request, Visit visit, void *context) {
    return each_item_entering(request, NULL, visit, context);
}

/* Whether two byte strings are the same. */
static int same_bytes(Buf a, Buf b) {
    return a.end - a.p == b.end - b.p && (a.p == a.end || memcmp(a.p, b.p, a.end - a.p) == 0);
}

/* A KeyValue's value as the scans keep it: its bytes, or for a key without a value an empty Buf that is still
 * not NULL (the key is present; its value reads as None, or as the default of every field). */
static Buf present_value(Buf key, Buf value) {
    return value.p != NULL ? value : (Buf){key.end, key.end};
}

/* Growable bytes for the copied KeyValues. */
typedef struct {
    uint8_t *data;
    size_t length, capacity;
} Out;

static int out_append(Out *o, const uint8_t *p, size_t n) {
    if (n == 0) return 0; /* p may be NULL: an absent field */
    if (o->length + n > o->capacity) {
        size_t capacity = (o->capacity ? o->capacity * 2 : 1024);
        while (capacity < o->length + n) capacity *= 2;
        uint8_t *grown = PyMem_Realloc(o->data, capacity);
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        o->data = grown;
        o->capacity = capacity;
    }
    memcpy(o->data + o->length, p, n);
    o->length += n;
    return 0;
}

/* A varint at `out`; returns where it ends. */
static uint8_t *put_varint(uint8_t *out, uint64_t v) {
    while (v >= 0x80) {
        *out++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *out++ = (uint8_t)v;
    return out;
}

static int out_varint(Out *o, uint64_t v) {
    uint8_t bytes[10];
    return out_append(o, bytes, put_varint(bytes, v) - bytes);
}

/* A length-delimited field: its one-byte tag, the value's length, the value. */
static int out_field(Out *o, uint8_t tag, Buf value) {
    return (out_append(o, &tag, 1) < 0 || out_varint(o, (uint64_t)(value.end - value.p)) < 0) ? -1
           : out_append(o, value.p, value.end - value.p);
}

/* append_to_spans: a request with bytes appended to each span. The new lengths of the nested messages are
 * measured first, then everything is written once into the result (growing buffers copied each byte several
 * times over: a request's 1 MB became ~10 MB of copying). Levels: 0 the request, 1 a ResourceSpans, 2 a
 * ScopeSpans, 3 a span; each level's messages are field 1 (resource_spans) or 2 (scope_spans, spans). */
static size_t varint_length(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static PyObject *addition_at(PyObject *additions, Py_ssize_t i) {
    if (i >= PyList_GET_SIZE(additions)) {
        PyErr_SetString(PyExc_ValueError, "more spans than additions");
        return NULL;
    }
    PyObject *add = PyList_GET_ITEM(additions, i);
    if (!PyBytes_Check(add)) {
        PyErr_SetString(PyExc_TypeError, "additions must be bytes");
        return NULL;
    }
    return add;
}

/* The length of message `b` at `level` once its spans have their additions (from index *next on, which it
 * advances past them); -1 with an exception set. */
static Py_ssize_t appended_length(Buf b, int level, PyObject *additions, Py_ssize_t *next) {
    if (level == 3) {
        PyObject *add = addition_at(additions, (*next)++);
        return add == NULL ? -1 : (b.end - b.p) + PyBytes_GET_SIZE(add);
    }
    Field f;
    int r;
    Py_ssize_t total = 0;
    const uint8_t *start = b.p;
    while ((r = next_field(&b, &f)) == 0) {
        if (f.number == (level == 0 ? 1u : 2u) && f.wire_type == 2) {
            Py_ssize_t n = appended_length(f.bytes, level + 1, additions, next);
            if (n < 0) return -1;
            total += 1 + (Py_ssize_t)varint_length((uint64_t)n) + n;
        } else {
            total += b.p - start;
        }
        start = b.p;
    }
    if (r < 0) {
        malformed();
        return -1;
    }
    return total;
}

/* Writes what appended_length measured; the input was read once already, so it is well formed. */
static uint8_t *write_appended(Buf b, int level, PyObject *additions, Py_ssize_t *next, uint8_t *out) {
    if (level == 3) {
        PyObject *add = PyList_GET_ITEM(additions, (*next)++);
        memcpy(out, b.p, b.end - b.p);
        out += b.end - b.p;
        memcpy(out, PyBytes_AS_STRING(add), PyBytes_GET_SIZE(add));
        return out + PyBytes_GET_SIZE(add);
    }
    Field f;
    uint32_t number = level == 0 ? 1 : 2;
    const uint8_t *start = b.p;
    while (next_field(&b, &f) == 0) {
        if (f.number == number && f.wire_type == 2) {
            Py_ssize_t first = *next;
            Py_ssize_t n = appended_length(f.bytes, level + 1, additions, &first);
            *out++ = (uint8_t)(number << 3 | 2);
            out = put_varint(out, (uint64_t)n);
            out = write_appended(f.bytes, level + 1, additions, next, out);
        } else {
            memcpy(out, start, b.p - start);
            out += b.p - start;
        }
        start = b.p;
    }
    return out;
}

static PyObject *append_to_spans(PyObject *self, PyObject *args) {
    Py_buffer data;
    PyObject *additions, *result = NULL;
    if (!PyArg_ParseTuple(args, "y*O!", &data, &PyList_Type, &additions)) return NULL;
    Buf request = {data.buf, (const uint8_t *)data.buf + data.len};
    Py_ssize_t next = 0;
    Py_ssize_t length = appended_length(request, 0, additions, &next);
    if (length >= 0 && next != PyList_GET_SIZE(additions)) {
        PyErr_SetString(PyExc_ValueError, "fewer spans than additions");
    } else if (length >= 0 && (result = PyBytes_FromStringAndSize(NULL, length)) != NULL) {
        next = 0;
        write_appended(request, 0, additions, &next, (uint8_t *)PyBytes_AS_STRING(result));
    }
    PyBuffer_Release(&data);
    return result;
}

/* Each ResourceSpans' Resource (its message bytes) and schema_url, in order. */
static PyObject *scan_resources(PyObject *self, PyObject *args) {
    Py_buffer data;
    PyObject *rows;
    Field rs, f;
    int r1, r2 = 1;
    if (!PyArg_ParseTuple(args, "y*", &data)) return NULL;
    rows = PyList_New(0);
    Buf request = {data.buf, (const uint8_t *)data.buf + data.len};
    while (rows != NULL && (r1 = next_field(&request, &rs)) == 0) {
        if (rs.number != 1 || rs.wire_type != 2) continue;
        Buf b = rs.bytes, resource = {0}, schema_url = {0};
        while ((r2 = next_field(&b, &f)) == 0) {
            if (f.wire_type != 2) continue;
            if (f.number == 1) resource = f.bytes;
            else if (f.number == 3) schema_url = f.bytes;
        }
        if (r2 < 0) break;
        PyObject *row = Py_BuildValue("(NN)", PyBytes_FromStringAndSize((const char *)resource.p,
                                                                        resource.end - resource.p),
                                      schema_url.p ? decode_string(schema_url) : PyUnicode_FromString(""));
        if (row == NULL || PyList_Append(rows, row) < 0) Py_CLEAR(rows);
        Py_XDECREF(row);
    }
    if (rows != NULL && (r1 < 0 || r2 < 0)) {
        Py_CLEAR(rows);
        malformed();
    }
    PyBuffer_Release(&data);
    return rows;
}

/* ---- content_text: the text a redactor reads in a trace request, for one scan -------------------------- */

static const uint8_t SEPARATOR[] = {'\n', 0, '\n'}; /* scanner._LEAF_SEPARATOR */

static int out_separated(Out *o, const uint8_t *p, size_t n) {
    return out_append(o, p, n) < 0 ? -1 : out_append(o, SEPARATOR, sizeof SEPARATOR);
}

static int hex_digit(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int read_hex4(const uint8_t *p, const uint8_t *end, uint32_t *out) {
    uint32_t v = 0;
    if (end - p < 4) return -1;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(p[i]);
        if (d < 0) return -1;
        v = (v << 4) | (uint32_t)d;
    }
    *out = v;
    return 0;
}

/* A code point as UTF-8; surrogates as three bytes, as Python's "surrogatepass" writes them. */
static int out_code_point(Out *o, uint32_t c) {
    uint8_t b[4];
    size_t n;
    if (c < 0x80) { b[0] = (uint8_t)c; n = 1; }
    else if (c < 0x800) { b[0] = 0xc0 | (c >> 6); b[1] = 0x80 | (c & 0x3f); n = 2; }
    else if (c < 0x10000) { b[0] = 0xe0 | (c >> 12); b[1] = 0x80 | ((c >> 6) & 0x3f); b[2] = 0x80 | (c & 0x3f); n = 3; }
    else { b[0] = 0xf0 | (c >> 18); b[1] = 0x80 | ((c >> 12) & 0x3f); b[2] = 0x80 | ((c >> 6) & 0x3f);
           b[3] = 0x80 | (c & 0x3f); n = 4; }
    return out_append(o, b, n);
}

/* Where the run of plain string characters from `p` ends: at a quote, a backslash or a control character
 * (or `end`). Eight bytes at a time: a word holds one of those when one of its bytes, XORed with the quote or
 * the backslash, is zero, or is below 0x20 (the usual "has a zero/less byte" tests, exact for "any"). */
#define BYTES(b) (0x0101010101010101ULL * (uint8_t)(b))
static const uint8_t *plain_run(const uint8_t *p, const uint8_t *end) {
    while (end - p >= 8) {
        uint64_t w, quote, backslash;
        memcpy(&w, p, 8);
        quote = w ^ BYTES('"');
        backslash = w ^ BYTES('\\');
        if ((((quote - BYTES(1)) & ~quote) | ((backslash - BYTES(1)) & ~backslash) | ((w - BYTES(0x20)) & ~w)) &
            BYTES(0x80))
            break;
        p += 8;
    }
    while (p < end && *p != '"' && *p != '\\' && *p >= 0x20) p++;
    return p;
}

/* The body of a JSON string from `p` (just after its opening quote), decoded as JSON decodes it (escapes,
 * surrogate pairs), appended to `o` unless it is NULL, with the characters it makes (as Python counts them)
 * added to `*chars` unless that is NULL. Returns where it stopped: the closing quote, or the first thing that
 * is not JSON (an unknown escape, a control character), or `end`; NULL on a memory error. */
static const uint8_t *decode_json_string(const uint8_t *p, const uint8_t *end, Out *o, Py_ssize_t *chars) {
    while (p < end && *p != '"') {
        if (*p >= 0x20 && *p != '\\') {
            const uint8_t *run = p;
            p = plain_run(p, end);
            if (o != NULL && out_append(o, run, p - run) < 0) return NULL;
            if (chars != NULL) {
                Py_ssize_t n = 0;
                for (const uint8_t *q = run; q < p; q++) n += (*q & 0xc0) != 0x80;
                *chars += n;
            }
            continue;
        }
        if (*p != '\\' || end - p < 2) return p;
        uint8_t e = p[1];
        uint8_t simple = e == '"' ? '"' : e == '\\' ? '\\' : e == '/' ? '/' : e == 'b' ? '\b' : e == 'f' ? '\f'
                       : e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : 0;
        uint32_t c = simple, low;
        if (simple) {
            p += 2;
        } else {
            if (e != 'u' || read_hex4(p + 2, end, &c) < 0) return p;
            p += 6;
            if (c >= 0xd800 && c < 0xdc00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
                read_hex4(p + 2, end, &low) == 0 && low >= 0xdc00 && low < 0xe000) {
                c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
                p += 6;
            }
        }
        if (o != NULL && out_code_point(o, c) < 0) return NULL;
        if (chars != NULL) *chars += 1;
    }
    return p;
}

/* Where the JSON string whose body starts at `p` ends, as decode_json_string says, without decoding it (the
 * careful way only from an escape or a control character on). */
static const uint8_t *skip_json_string(const uint8_t *p, const uint8_t *end) {
    p = plain_run(p, end);
    return p < end && *p != '"' ? decode_json_string(p, end, NULL, NULL) : p;
}

/* Every double-quoted string in `s`, decoded, each followed by the separator. On text that is not JSON this
 * reads whatever lies between quotes: more text to scan, never less. Where a string stops being JSON (an
 * unknown escape) it ends there (such a value is not JSON: the redactor scans it as plain text, which the
 * caller adds too). */
static int out_json_strings(Out *o, Buf s) {
    const uint8_t *p = s.p;
    while (p < s.end) {
        if (*p++ != '"') continue;
        if ((p = decode_json_string(p, s.end, o, NULL)) == NULL) return -1;
        if (out_append(o, SEPARATOR, sizeof SEPARATOR) < 0) return -1;
        if (p < s.end && *p == '"') p++;
    }
    return 0;
}

/* Each string in an AnyValue (arrays and maps included): as it is, then its quoted strings decoded. 1 when
 * the value nests deeper than this reads (its text is then incomplete), -1 on error. */
#define MAX_DEPTH 32
static int out_value_text(Out *o, Buf b, int depth) {
    Field f;
    int r;
    if (depth > MAX_DEPTH) return 1;
    while ((r = next_field(&b, &f)) == 0) {
        if (f.wire_type != 2) continue;
        if (f.number == 1) {
            if (out_separated(o, f.bytes.p, f.bytes.end - f.bytes.p) < 0 || out_json_strings(o, f.bytes) < 0)
                return -1;
        } else if (f.number == 5 || f.number == 6) { /* ArrayValue.values / KeyValueList.values = 1 */
            Buf items = f.bytes;
            Field item;
            int q;
            while ((q = next_field(&items, &item)) == 0) {
                if (item.number != 1 || item.wire_type != 2) continue;
                Buf value = item.bytes;
                if (f.number == 6) {
                    Buf key;
                    if (key_value(item.bytes, &key, &value) < 0) return -1;
                    if (value.p == NULL) continue;
                }
                int inner = out_value_text(o, value, depth + 1);
                if (inner != 0) return inner;
            }
            if (q < 0) return -1;
        }
    }
    return r < 0 ? -1 : 0;
}

typedef struct {
    const KeyTable *table;
    PyObject *prefixes; /* tuple of bytes */
    int flagged;
} ContentKeys;

/* 1 for a content key, 2 for a flag, 0 for others. */
static int content_kind(const ContentKeys *k, Buf key) {
    const Wanted *w = lookup(k->table, key);
    if (w != NULL) return w->copy ? 2 : 1;
    Py_ssize_t n = key.end - key.p;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(k->prefixes); i++) {
        PyObject *prefix = PyTuple_GET_ITEM(k->prefixes, i);
        Py_ssize_t m = PyBytes_GET_SIZE(prefix);
        const char *p = PyBytes_AS_STRING(prefix);
        /* first and last bytes before memcmp: most keys share a prefix's start ("gen_ai."), few its end */
        if (m <= n && (m == 0 || (key.p[0] == (uint8_t)p[0] && key.p[m - 1] == (uint8_t)p[m - 1] &&
                                  memcmp(p, key.p, m) == 0)))
            return 1;
    }
    return 0;
}

/* The content text of one KeyValue list field (`number`) of a message. */
static int out_attributes_text(Out *o, Buf b, uint32_t number, ContentKeys *k) {
    Field f;
    int r;
    while ((r = next_field(&b, &f)) == 0) {
        Buf key, value;
        if (f.number != number || f.wire_type != 2) continue;
        if (key_value(f.bytes, &key, &value) < 0) return -1;
        if (key.p == NULL) continue;
        int kind = content_kind(k, key);
        if (kind == 2) k->flagged = 1;
        else if (kind == 1 && value.p != NULL) {
            int read = out_value_text(o, value, 0);
            if (read < 0) return -1;
            if (read > 0) k->flagged = 1; /* too deep to read here: the caller reads it span by span */
        }
    }
    return r < 0 ? -1 : 0;
}

typedef struct {
    Out *out;
    ContentKeys *keys;
} Reading;

/* A span's content: its attributes' and its events' (Span.attributes = 9; Span.events = 11, Event.attributes =
 * 3). */
static int add_span_text(Buf span, const Py_ssize_t where[3], void *context) {
    Reading *r = context;
    Field ev;
    int read;
    if (out_attributes_text(r->out, span, 9, r->keys) < 0) goto bad;
    while ((read = next_field(&span, &ev)) == 0)
        if (ev.number == 11 && ev.wire_type == 2 && out_attributes_text(r->out, ev.bytes, 3, r->keys) < 0) goto bad;
    if (read < 0) goto bad;
    return 0;
bad:
    if (!PyErr_Occurred()) malformed();
    return -1;
}

static PyObject *content_text(PyObject *self, PyObject *args) {
    Py_buffer data;
    PyObject *keys, *prefixes, *result = NULL;
    KeyTable *table = NULL;
    Out o = {0};
    if (!PyArg_ParseTuple(args, "y*O!O!", &data, &PyDict_Type, &keys, &PyTuple_Type, &prefixes)) return NULL;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(prefixes); i++) {
        if (!PyBytes_Check(PyTuple_GET_ITEM(prefixes, i))) {
            PyErr_SetString(PyExc_TypeError, "prefixes must be bytes");
            goto done;
        }
    }
    table = PyMem_Malloc(sizeof *table);
    if (table == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (build_table(table, keys) < 0) goto done;
    ContentKeys k = {table, prefixes, 0};
    Reading reading = {&o, &k};
    Buf request = {data.buf, (const uint8_t *)data.buf + data.len};
    if (each_item(request, add_span_text, &reading) < 0) goto done;
    /* not "y#": it makes None of a NULL pointer (nothing appended), where an empty bytes is meant */
    result = Py_BuildValue("(NO)", PyBytes_FromStringAndSize((const char *)o.data, (Py_ssize_t)o.length),
                           k.flagged ? Py_True : Py_False);
done:
    PyMem_Free(o.data);
    PyMem_Free(table);
    PyBuffer_Release(&data);
    return result;
}

/* ---- events_only: whether every log record of a logs request is one event ---------------------------- */

typedef struct {
    const Py_buffer *name;
    int records;
    int others;
} Events;

static int check_event(Buf record, const Py_ssize_t where[3], void *context) {
    Events *e = context;
    Field f;
    Buf event = {0};
    int r;
    while ((r = next_field(&record, &f)) == 0)
        if (f.number == 12 && f.wire_type == 2) event = f.bytes; /* LogRecord.event_name = 12 */
    if (r < 0) {
        malformed();
        return -1;
    }
    e->records++;
    e->others = !same_bytes(event, (Buf){e->name->buf, (const uint8_t *)e->name->buf + e->name->len});
    return e->others; /* the first other record answers the question: stop */
}

static PyObject *events_only(PyObject *self, PyObject *args) {
    Py_buffer data, name;
    if (!PyArg_ParseTuple(args, "y*y*", &data, &name)) return NULL;
    Events e = {&name, 0, 0};
    Buf request = {data.buf, (const uint8_t *)data.buf + data.len};
    int failed = each_item(request, check_event, &e) < 0;
    PyBuffer_Release(&data);
    PyBuffer_Release(&name);
    return failed ? NULL : PyBool_FromLong(e.records > 0 && !e.others);
}

/* ---- encode_attributes: KeyValues as wire bytes ----------------------------------------------------------- */

/* One attribute's AnyValue (str, bool, int or float) into `value`; -1 with TypeError for anything else. */
static int any_value_bytes(PyObject *v, Out *value) {
    uint8_t head[9];
    if (PyBool_Check(v)) {
        head[0] = 0x10; /* bool_value = 2 */
        head[1] = v == Py_True;
        return out_append(value, head, 2);
    }
    if (PyLong_Check(v)) {
        long long n = PyLong_AsLongLong(v);
        if (n == -1 && PyErr_Occurred()) return -1;
        head[0] = 0x18; /* int_value = 3 */
        return out_append(value, head, 1) < 0 ? -1 : out_varint(value, (uint64_t)n);
    }
    if (PyFloat_Check(v)) {
        double d = PyFloat_AS_DOUBLE(v);
        uint64_t bits;
        memcpy(&bits, &d, 8);
        head[0] = 0x21; /* double_value = 4, fixed64 little-endian */
        for (int i = 0; i < 8; i++) head[1 + i] = (uint8_t)(bits >> (8 * i));
        return out_append(value, head, 9);
    }
    if (PyUnicode_Check(v)) {
        Py_ssize_t n;
        const char *text = PyUnicode_AsUTF8AndSize(v, &n);
        if (text == NULL) return -1;
        return out_field(value, 0x0a, (Buf){(const uint8_t *)text, (const uint8_t *)text + n}); /* string_value = 1 */
    }
    PyErr_Format(PyExc_TypeError, "encode_attributes: cannot encode %s", Py_TYPE(v)->tp_name);
    return -1;
}

static Buf out_buf(const Out *o) { return (Buf){o->data, o->data + o->length}; }

/* One attribute, `key` (str) and `v`, as a KeyValue framed as field `tag` onto `o`; `value` and `kv` are
 * scratch. -1 with an exception set on failure. */
static int out_attribute(Out *o, uint8_t tag, PyObject *key, PyObject *v, Out *value, Out *kv) {
    Py_ssize_t key_length;
    const char *name;
    if (!PyUnicode_Check(key) || (name = PyUnicode_AsUTF8AndSize(key, &key_length)) == NULL) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "encode_attributes: keys are str");
        return -1;
    }
    value->length = kv->length = 0;
    Buf key_bytes = {(const uint8_t *)name, (const uint8_t *)name + key_length};
    return (any_value_bytes(v, value) < 0 || out_field(kv, 0x0a, key_bytes) < 0 || /* KeyValue.key = 1 */
            out_field(kv, 0x12, out_buf(value)) < 0 || out_field(o, tag, out_buf(kv)) < 0) /* value = 2 */
               ? -1
               : 0;
}

static PyObject *encode_attributes(PyObject *self, PyObject *args) {
    PyObject *mapping, *key, *v, *result = NULL;
    int tag;
    Py_ssize_t at = 0;
    Out o = {0}, value = {0}, kv = {0};
    if (!PyArg_ParseTuple(args, "O!i", &PyDict_Type, &mapping, &tag)) return NULL;
    while (PyDict_Next(mapping, &at, &key, &v)) {
        if (v != Py_None && out_attribute(&o, (uint8_t)tag, key, v, &value, &kv) < 0) goto done;
    }
    result = PyBytes_FromStringAndSize((const char *)o.data, (Py_ssize_t)o.length);
done:
    PyMem_Free(o.data);
    PyMem_Free(value.data);
    PyMem_Free(kv.data);
    return result;
}

/* ---- json_leaves: the string values of a JSON document, for the redactor ------------------------------- */

#define MAX_JSON_DEPTH 512

typedef struct {
    const uint8_t *p, *end;
    const uint8_t *counted; /* characters are counted up to here */
    Py_ssize_t counted_chars;
    int ascii;
    Out out;                /* the decoded leaves, each followed by the separator */
    Py_ssize_t out_chars;
    PyObject *bounds;       /* per leaf: its body's start and end in the text, and in the joined leaves */
    int collect;            /* string values are leaves (json_leaves); 0: only read past (message_preview) */
} Json;

enum { JSON_OK = 0, NOT_JSON = 1, JSON_ERROR = -1 };

/* The character index (as Python counts) of byte position `at`: positions are asked for in order. */
static Py_ssize_t char_index(Json *j, const uint8_t *at) {
    if (j->ascii) return at - j->counted + j->counted_chars;
    for (; j->counted < at; j->counted++) j->counted_chars += (*j->counted & 0xc0) != 0x80;
    return j->counted_chars;
}

static void skip_space(Json *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int add_bound(PyObject *bounds, Py_ssize_t v) {
    PyObject *n = PyLong_FromSsize_t(v);
    int r = n == NULL ? -1 : PyList_Append(bounds, n);
    Py_XDECREF(n);
    return r;
}

/* A JSON string in the text: its body (after the opening quote) and the closing quote. */
typedef struct {
    const uint8_t *body, *stop;
} JsonString;

/* Reads the string at j->p (a quote) and says where it is. */
static int read_json_string(Json *j, JsonString *s) {
    s->body = j->p + 1;
    s->stop = skip_json_string(s->body, j->end);
    if (s->stop == NULL) return JSON_ERROR;
    if (s->stop >= j->end || *s->stop != '"') return NOT_JSON;
    j->p = s->stop + 1;
    return JSON_OK;
}

/* The string at j->p: a leaf (decoded into j->out, its bounds in j->bounds), or only read past. */
static int json_string(Json *j, int leaf) {
    JsonString s;
    if (!leaf) return read_json_string(j, &s);
    const uint8_t *body = ++j->p; /* after the opening quote */
    Py_ssize_t start = j->out_chars;
    const uint8_t *stop = decode_json_string(body, j->end, &j->out, &j->out_chars);
    if (stop == NULL) return JSON_ERROR;
    if (stop >= j->end || *stop != '"') return NOT_JSON;
    j->p = stop + 1;
    if (add_bound(j->bounds, char_index(j, body)) < 0 || add_bound(j->bounds, char_index(j, stop)) < 0 ||
        add_bound(j->bounds, start) < 0 || add_bound(j->bounds, j->out_chars) < 0 ||
        out_append(&j->out, SEPARATOR, sizeof SEPARATOR) < 0)
        return JSON_ERROR;
    j->out_chars += sizeof SEPARATOR;
    return JSON_OK;
}

static int json_word(Json *j, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0) return NOT_JSON;
    j->p += n;
    return JSON_OK;
}

static int digits(Json *j) {
    const uint8_t *from = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
    return j->p > from;
}

/* A number as Python's json reads one (NaN and Infinity included). */
static int json_number(Json *j) {
    if (*j->p == '-') j->p++;
    if (j->p < j->end && *j->p == 'I') return json_word(j, "Infinity");
    if (j->p < j->end && *j->p == '0') j->p++;
    else if (!digits(j)) return NOT_JSON;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!digits(j)) return NOT_JSON;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
        if (!digits(j)) return NOT_JSON;
    }
    return JSON_OK;
}

/* The members or items of the object or array at j->p (just after its `{` or `[`; `close` is `}` or `]`):
 * `read` reads each value, given its key (NULL in an array). */
typedef int (*Element)(Json *j, const JsonString *key, void *context);

static int json_elements(Json *j, uint8_t close, Element read, void *context) {
    int r;
    skip_space(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return JSON_OK;
    }
    for (;;) {
        JsonString key = {NULL, NULL};
        skip_space(j);
        if (close == '}') {
            if (j->p >= j->end || *j->p != '"') return NOT_JSON;
            if ((r = read_json_string(j, &key)) != JSON_OK) return r; /* a key: not a leaf */
            skip_space(j);
            if (j->p >= j->end || *j->p != ':') return NOT_JSON;
            j->p++;
        }
        if ((r = read(j, close == '}' ? &key : NULL, context)) != JSON_OK) return r;
        skip_space(j);
        if (j->p >= j->end) return NOT_JSON;
        if (*j->p == close) {
            j->p++;
            return JSON_OK;
        }
        if (*j->p++ != ',') return NOT_JSON;
    }
}

static int json_value(Json *j, int depth);

static int nested_value(Json *j, const JsonString *key, void *depth) { return json_value(j, *(int *)depth + 1); }

static int json_value(Json *j, int depth) {
    skip_space(j);
    if (j->p >= j->end) return NOT_JSON;
    switch (*j->p) {
    case '"': return json_string(j, j->collect);
    case 't': return json_word(j, "true");
    case 'f': return json_word(j, "false");
    case 'n': return json_word(j, "null");
    case 'N': return json_word(j, "NaN");
    case 'I': return json_word(j, "Infinity");
    case '[':
    case '{': {
        uint8_t close = *j->p == '[' ? ']' : '}';
        if (depth >= MAX_JSON_DEPTH) return NOT_JSON;
        j->p++;
        return json_elements(j, close, nested_value, &depth);
    }
    default:
        return (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) ? json_number(j) : NOT_JSON;
    }
}

/* `text` to read as JSON from its start (its UTF-8, and where the document begins): 0; 1 when it has lone
 * surrogates (not text this reads as JSON); -1 on another error. */
static int json_open(PyObject *text, Json *j) {
    Py_ssize_t length;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &length);
    if (utf8 == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) return -1;
        PyErr_Clear();
        return 1;
    }
    j->p = j->counted = (const uint8_t *)utf8;
    j->end = j->p + length;
    j->ascii = PyUnicode_IS_ASCII(text);
    skip_space(j);
    return 0;
}

/* `r`, the outcome of reading the document, unless more than space follows it. */
static int json_close(Json *j, int r) {
    skip_space(j);
    return r == JSON_OK && j->p != j->end ? NOT_JSON : r;
}

static PyObject *json_leaves(PyObject *self, PyObject *text) {
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "json_leaves takes a str");
        return NULL;
    }
    Json j = {0};
    int opened = json_open(text, &j);
    if (opened != 0) return opened < 0 ? NULL : Py_NewRef(Py_None);
    j.collect = 1;
    if ((j.bounds = PyList_New(0)) == NULL) return NULL;
    PyObject *result = NULL;
    int r = json_close(&j, j.p < j.end && (*j.p == '[' || *j.p == '{') ? json_value(&j, 0) : NOT_JSON);
    if (r == NOT_JSON) {
        result = Py_NewRef(Py_None);
    } else if (r == JSON_OK) {
        PyObject *joined = PyUnicode_DecodeUTF8((const char *)j.out.data, (Py_ssize_t)j.out.length, "surrogatepass");
        if (joined != NULL) result = PyTuple_Pack(2, joined, j.bounds);
        Py_XDECREF(joined);
    }
    PyMem_Free(j.out.data);
    Py_DECREF(j.bounds);
    return result;
}

/* ---- message_preview: the text a call's record shows of a message list ---------------------------------- */

/* Whether a read string decodes to `word` (escapes are decoded first: "r\u006fle" is "role"). */
static int json_string_is(const JsonString *s, const char *word, Out *scratch) {
    size_t n = strlen(word);
    if (memchr(s->body, '\\', s->stop - s->body) == NULL)
        return (size_t)(s->stop - s->body) == n && memcmp(s->body, word, n) == 0;
    scratch->length = 0;
    if (decode_json_string(s->body, s->stop, scratch, NULL) == NULL) return -1;
    return scratch->length == n && memcmp(scratch->data, word, n) == 0;
}

/* The value at j->p: its string, if it is one (s->body NULL otherwise), read past either way. */
static int json_value_or_string(Json *j, JsonString *s) {
    skip_space(j);
    s->body = NULL;
    if (j->p < j->end && *j->p == '"') return read_json_string(j, s);
    return json_value(j, 1);
}

typedef struct {
    Out *scratch;
    JsonString type, content; /* the last of each key (JSON objects keep the last of a repeated key) */
    int text;                 /* the type is the string "text" */
} Part;

static int part_member(Json *j, const JsonString *key, void *context) {
    Part *part = context;
    int r, is;
    if ((is = json_string_is(key, "type", part->scratch)) < 0) return JSON_ERROR;
    if (is) {
        if ((r = json_value_or_string(j, &part->type)) != JSON_OK) return r;
        part->text = part->type.body != NULL ? json_string_is(&part->type, "text", part->scratch) : 0;
        return part->text < 0 ? JSON_ERROR : JSON_OK;
    }
    if ((is = json_string_is(key, "content", part->scratch)) < 0) return JSON_ERROR;
    return is ? json_value_or_string(j, &part->content) : json_value(j, 1);
}

/* The first part of a `parts` array that is {"type": "text", "content": <a string>}. */
typedef struct {
    Out *scratch;
    JsonString text; /* body NULL: none yet */
} Parts;

static int parts_item(Json *j, const JsonString *key, void *context) {
    Parts *parts = context;
    if (j->p >= j->end || *j->p != '{') return json_value(j, 1);
    j->p++;
    Part part = {parts->scratch, {NULL, NULL}, {NULL, NULL}, 0};
    int r = json_elements(j, '}', part_member, &part);
    if (r == JSON_OK && parts->text.body == NULL && part.text && part.content.body != NULL) parts->text = part.content;
    return r;
}

typedef struct {
    Out *scratch;
    JsonString content, parts_text;
    int user;      /* the role is the string "user" */
    int has_parts; /* the last `parts` is an array */
} Message;

static int message_member(Json *j, const JsonString *key, void *context) {
    Message *m = context;
    int r, is;
    if ((is = json_string_is(key, "content", m->scratch)) < 0) return JSON_ERROR;
    if (is) return json_value_or_string(j, &m->content);
    if ((is = json_string_is(key, "role", m->scratch)) < 0) return JSON_ERROR;
    if (is) {
        JsonString role;
        if ((r = json_value_or_string(j, &role)) != JSON_OK) return r;
        m->user = role.body != NULL ? json_string_is(&role, "user", m->scratch) : 0;
        return m->user < 0 ? JSON_ERROR : JSON_OK;
    }
    if ((is = json_string_is(key, "parts", m->scratch)) < 0) return JSON_ERROR;
    if (!is) return json_value(j, 1);
    skip_space(j);
    m->has_parts = j->p < j->end && *j->p == '[';
    m->parts_text.body = NULL;
    if (!m->has_parts) return json_value(j, 1);
    j->p++;
    Parts parts = {m->scratch, {NULL, NULL}};
    r = json_elements(j, ']', parts_item, &parts);
    m->parts_text = parts.text;
    return r;
}

typedef struct {
    Out *scratch;
    JsonString first, last_user;
} Messages;

/* A message's text: its `content` if that is a string, else its first text part. */
static int messages_item(Json *j, const JsonString *key, void *context) {
    Messages *all = context;
    if (j->p >= j->end || *j->p != '{') return json_value(j, 1);
    j->p++;
    Message m = {all->scratch, {NULL, NULL}, {NULL, NULL}, 0, 0};
    int r = json_elements(j, '}', message_member, &m);
    if (r != JSON_OK) return r;
    JsonString text = m.content.body != NULL ? m.content : m.parts_text;
    if (text.body == NULL) return JSON_OK;
    if (all->first.body == NULL) all->first = text;
    if (m.user) all->last_user = text;
    return JSON_OK;
}

/* The preview of a JSON message list (see message_preview); None when `text` is not one JSON array. */
static PyObject *preview(PyObject *text, Py_ssize_t limit, int last_user) {
    Json j = {0};
    int opened = json_open(text, &j);
    if (opened != 0) return opened < 0 ? NULL : Py_NewRef(Py_None);
    Out scratch = {0};
    Messages all = {&scratch, {NULL, NULL}, {NULL, NULL}};
    PyObject *result = NULL;
    int r = NOT_JSON;
    if (j.p < j.end && *j.p == '[') {
        j.p++;
        r = json_elements(&j, ']', messages_item, &all);
    }
    r = json_close(&j, r);
    if (r == NOT_JSON) {
        result = Py_NewRef(Py_None);
    } else if (r == JSON_OK) {
        JsonString chosen = last_user && all.last_user.body != NULL ? all.last_user : all.first;
        if (chosen.body != NULL && chosen.stop - chosen.body > 12 * limit) {
            /* `limit` characters take at most 12 bytes each (an escaped surrogate pair): decode no more than
             * that, cut where a character starts (an escape cut short ends the decoding before it) */
            chosen.stop = chosen.body + 12 * limit;
            while (chosen.stop > chosen.body && (*chosen.stop & 0xc0) == 0x80) chosen.stop--;
        }
        scratch.length = 0;
        if (chosen.body == NULL || decode_json_string(chosen.body, chosen.stop, &scratch, NULL) != NULL) {
            PyObject *decoded = PyUnicode_DecodeUTF8((const char *)scratch.data, (Py_ssize_t)scratch.length,
                                                     "surrogatepass");
            if (decoded != NULL) {
                result = PyUnicode_GET_LENGTH(decoded) > limit ? PyUnicode_Substring(decoded, 0, limit)
                                                               : Py_NewRef(decoded);
                Py_DECREF(decoded);
            }
        }
    }
    PyMem_Free(scratch.data);
    return result;
}

static PyObject *message_preview(PyObject *self, PyObject *args) {
    PyObject *text;
    Py_ssize_t limit;
    int last_user;
    if (!PyArg_ParseTuple(args, "Unp", &text, &limit, &last_user)) return NULL;
    if (limit < 0) {
        PyErr_SetString(PyExc_ValueError, "limit must not be negative");
        return NULL;
    }
    return preview(text, limit, last_user);
}

/* ---- usage_counts and scan_calls: what the genai_metrics connector takes of each GenAI span ------------- */

/* A token count above this is taken as this: far above any call's, and sums of a few stay exact in a double. */
#define MAX_COUNT (1LL << 50)

/* A token count as an attribute value gives it: an int, a float truncated, a numeric string; 0 for anything
 * else (booleans, negatives, infinities, NaN). -1 with an exception set on failure. */
static long long token_count(PyObject *v) {
    double d;
    if (v == NULL || v == Py_None || PyBool_Check(v)) return 0;
    if (PyLong_Check(v)) {
        int overflow;
        long long n = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (n == -1 && PyErr_Occurred()) return -1;
        if (overflow) return overflow > 0 ? MAX_COUNT : 0;
        return n < 0 ? 0 : n > MAX_COUNT ? MAX_COUNT : n;
    }
    if (PyFloat_Check(v)) {
        d = PyFloat_AS_DOUBLE(v);
    } else if (PyUnicode_Check(v)) {
        PyObject *number = PyFloat_FromString(v);
        if (number == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_ValueError)) return -1;
            PyErr_Clear();
            return 0;
        }
        d = PyFloat_AS_DOUBLE(number);
        Py_DECREF(number);
    } else {
        return 0;
    }
    if (!(d >= 1) || isinf(d)) return 0; /* NaN too */
    return d >= (double)MAX_COUNT ? MAX_COUNT : (long long)d;
}

/* Token counts made inclusive as the semantic conventions count them: input includes cache reads and writes
 * (a sender reporting Anthropic's uncached `input_tokens` gives fewer), output includes reasoning. */
static PyObject *counted_usage(PyObject *const values[5]) {
    long long n[5];
    for (int i = 0; i < 5; i++)
        if ((n[i] = token_count(values[i])) < 0) return NULL;
    if (n[2] + n[3] > n[0]) n[0] += n[2] + n[3];
    if (n[4] > n[1]) n[1] = n[4];
    return Py_BuildValue("(LLLLL)", n[0], n[1], n[2], n[3], n[4]);
}

static PyObject *usage_counts(PyObject *self, PyObject *args) {
    PyObject *values[5];
    if (!PyArg_ParseTuple(args, "OOOOO", &values[0], &values[1], &values[2], &values[3], &values[4])) return NULL;
    return counted_usage(values);
}

/* The keys scan_calls reads, by their place in its `roles` argument. */
enum {
    R_OPERATION, R_PROVIDER, R_REQUEST_MODEL, R_RESPONSE_MODEL, R_ERROR_TYPE, R_USER, R_TENANT,
    R_TTFT, R_COST_INPUT, R_COST_OUTPUT, R_COST_CACHE_READ, R_COST_CACHE_WRITE, R_COST_REASONING, R_CACHE_SAVINGS,
    R_INPUT_TOKENS, R_OUTPUT_TOKENS, R_CACHE_READ_TOKENS, R_CACHE_WRITE_TOKENS, R_REASONING_TOKENS,
    R_SESSION, R_CONVERSATION, R_INPUT_MESSAGES, R_OUTPUT_MESSAGES, ROLES
};
/* The names of what a record adds, by their place in scan_calls' `added` argument. */
enum { A_DURATION, A_STATUS, A_INPUT_PREVIEW, A_OUTPUT_PREVIEW, ADDED };
/* The roles of the token counts, in usage_counts' order. */
static const int TOKEN_ROLES[] = {R_INPUT_TOKENS, R_OUTPUT_TOKENS, R_CACHE_READ_TOKENS, R_CACHE_WRITE_TOKENS,
                                  R_REASONING_TOKENS};
/* The role whose value goes in each measure after the duration (see connector.Measures). */
static const int MEASURE_ROLES[] = {R_TTFT, R_COST_INPUT, R_COST_OUTPUT, R_COST_CACHE_READ, R_COST_CACHE_WRITE,
                                    R_COST_REASONING, R_CACHE_SAVINGS};

/* A table of the keys in `roles` (each marked with its place there, which must hold `expected` keys) and in
 * `others` (role -1, copied when `copy_others`; a key also in `roles` keeps its role). The scan functions name
 * a key by its role. NULL with an exception set on failure; PyMem_Free it. */
static KeyTable *role_table(const char *caller, PyObject *roles, Py_ssize_t expected, PyObject *others,
                            int copy_others) {
    Py_ssize_t n_others = others == NULL ? 0 : PyTuple_GET_SIZE(others);
    if (PyTuple_GET_SIZE(roles) != expected || expected + n_others > SLOTS / 2) {
        PyErr_Format(PyExc_ValueError, "%s: wrong number of keys", caller);
        return NULL;
    }
    KeyTable *t = PyMem_Calloc(1, sizeof *t);
    if (t == NULL) return (KeyTable *)PyErr_NoMemory();
    for (int pass = 0; pass < 2; pass++) {
        PyObject *keys = pass == 0 ? roles : others;
        for (Py_ssize_t k = 0; keys != NULL && k < PyTuple_GET_SIZE(keys); k++) {
            Wanted *w = put_key(t, PyTuple_GET_ITEM(keys, k));
            if (w == NULL) {
                PyMem_Free(t);
                return NULL;
            }
            if (pass == 0) w->role = (int)k;
            else w->copy = copy_others;
        }
    }
    return t;
}

typedef struct {
    KeyTable *table;
    PyObject *roles, *added, *event, *as_text, *calls;
    uint8_t copy_tag;
    Py_ssize_t limit; /* preview characters; -1: no records */
    uint64_t now_ns;
    Out copied, record, value, kv;
} Calls;

/* The value of a role's key (None when absent or unset), a new reference. */
static PyObject *role_value(const Buf *values, int role) {
    return values[role].p != NULL ? any_value(values[role]) : Py_NewRef(Py_None);
}

/* `as_text(v)` of the connector's Python side, but for strings, taken as they are. */
static PyObject *text_of(Calls *c, PyObject *v) {
    return PyUnicode_CheckExact(v) ? Py_NewRef(v) : PyObject_CallOneArg(c->as_text, v);
}

/* A message list's preview: the last user message's text for the input, the first message's for the output; a
 * string that is not a message list, cut; "" for another value. NULL with an exception set. */
static PyObject *preview_of(Calls *c, const Buf *values, int role, int last_user) {
    PyObject *v = role_value(values, role), *text;
    if (v == NULL) return NULL;
    if (!PyUnicode_Check(v)) {
        Py_DECREF(v);
        return PyUnicode_FromStringAndSize("", 0);
    }
    text = preview(v, c->limit, last_user);
    if (text == Py_None) {
        Py_DECREF(text);
        text = PyUnicode_Substring(v, 0, c->limit);
    }
    Py_DECREF(v);
    return text;
}

/* Adds attribute `key` = `v` to the record unless `v` is NULL (an error: returns -1), None or an empty string;
 * steals the reference to `v`. */
static int record_adds(Calls *c, PyObject *key, PyObject *v) {
    if (v == NULL) return -1;
    int r = v == Py_None || (PyUnicode_Check(v) && PyUnicode_GET_LENGTH(v) == 0)
                ? 0
                : out_attribute(&c->record, c->copy_tag, key, v, &c->value, &c->kv);
    Py_DECREF(v);
    return r;
}

static const uint8_t SEVERITY_INFO[] = {0x10, 0x09, 0x1a, 0x04, 'I', 'N', 'F', 'O'};           /* 9, "INFO" */
static const uint8_t SEVERITY_ERROR[] = {0x10, 0x11, 0x1a, 0x05, 'E', 'R', 'R', 'O', 'R'};    /* 17, "ERROR" */

/* The llmtap.llm_call LogRecord of a span, framed as a ScopeLogs' log_records field: its start time, the time
 * now, ids and flags, severity, event name, the KeyValues copied from the span, then what the record adds. */
static PyObject *call_record(Calls *c, const Buf *values, Buf trace_id, Buf span_id, uint64_t flags, uint64_t start,
                             uint64_t status, double seconds, PyObject *usage, PyObject *error_type) {
    Out *o = &c->record;
    uint8_t fixed[9];
    o->length = 0;
    fixed[0] = 0x09; /* time_unix_nano = 1, fixed64 */
    for (int i = 0; i < 8; i++) fixed[1 + i] = (uint8_t)(start >> (8 * i));
    if (out_append(o, fixed, 9) < 0) return NULL;
    fixed[0] = 0x59; /* observed_time_unix_nano = 11 */
    for (int i = 0; i < 8; i++) fixed[1 + i] = (uint8_t)(c->now_ns >> (8 * i));
    if (out_append(o, fixed, 9) < 0 || out_field(o, 0x4a, trace_id) < 0 || out_field(o, 0x52, span_id) < 0)
        return NULL; /* trace_id = 9, span_id = 10 */
    fixed[0] = 0x45; /* flags = 8, fixed32 */
    for (int i = 0; i < 4; i++) fixed[1 + i] = (uint8_t)((flags & 0xff) >> (8 * i));
    int error = PyUnicode_GET_LENGTH(error_type) > 0;
    Py_ssize_t event_length;
    const char *event = PyUnicode_AsUTF8AndSize(c->event, &event_length);
    if (event == NULL || out_append(o, fixed, 5) < 0 ||
        (error ? out_append(o, SEVERITY_ERROR, sizeof SEVERITY_ERROR) : out_append(o, SEVERITY_INFO, sizeof SEVERITY_INFO)) < 0 ||
        out_field(o, 0x62, (Buf){(const uint8_t *)event, (const uint8_t *)event + event_length}) < 0 || /* event_name = 12 */
        out_append(o, c->copied.data, c->copied.length) < 0)
        return NULL;
    const char *status_text = status == 1 ? "OK" : status == 2 ? "ERROR" : "UNSET";
    PyObject *added = c->added, *roles = c->roles;
    if (record_adds(c, PyTuple_GET_ITEM(added, A_DURATION), PyFloat_FromDouble(seconds)) < 0 ||
        record_adds(c, PyTuple_GET_ITEM(added, A_STATUS), PyUnicode_FromString(status_text)) < 0)
        return NULL;
    if (usage != Py_None) {
        for (int i = 0; i < 5; i++) {
            PyObject *n = PyTuple_GET_ITEM(usage, i); /* cache and reasoning counts only when there are some */
            if (i >= 2 && PyLong_AsLongLong(n) == 0) continue;
            if (record_adds(c, PyTuple_GET_ITEM(roles, TOKEN_ROLES[i]), Py_NewRef(n)) < 0) return NULL;
        }
    }
    if (error && values[R_ERROR_TYPE].p == NULL &&
        record_adds(c, PyTuple_GET_ITEM(roles, R_ERROR_TYPE), Py_NewRef(error_type)) < 0)
        return NULL;
    if (values[R_SESSION].p == NULL && values[R_CONVERSATION].p != NULL) {
        PyObject *conversation = role_value(values, R_CONVERSATION);
        if (conversation == NULL) return NULL;
        PyObject *session = text_of(c, conversation);
        Py_DECREF(conversation);
        if (record_adds(c, PyTuple_GET_ITEM(roles, R_SESSION), session) < 0) return NULL;
    }
    if (values[R_INPUT_MESSAGES].p != NULL &&
        record_adds(c, PyTuple_GET_ITEM(added, A_INPUT_PREVIEW), preview_of(c, values, R_INPUT_MESSAGES, 1)) < 0)
        return NULL;
    if (values[R_OUTPUT_MESSAGES].p != NULL &&
        record_adds(c, PyTuple_GET_ITEM(added, A_OUTPUT_PREVIEW), preview_of(c, values, R_OUTPUT_MESSAGES, 0)) < 0)
        return NULL;
    /* framed as ScopeLogs.log_records (2), as the request takes it */
    PyObject *framed = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(1 + varint_length(o->length) + o->length));
    if (framed == NULL) return NULL;
    uint8_t *at = (uint8_t *)PyBytes_AS_STRING(framed);
    *at++ = 0x12;
    at = put_varint(at, o->length);
    memcpy(at, o->data, o->length);
    return framed;
}

/* One GenAI span's call (see scan_calls), or None for a span that is not one; NULL with an exception set. */
static PyObject *read_call(Calls *c, Buf b, Py_ssize_t resource_index) {
    Field f;
    int r;
    Buf trace_id = {0}, span_id = {0}, values[ROLES];
    uint64_t flags = 0, start = 0, end = 0, status = 0;
    PyObject *items[10] = {NULL}, *measures[9] = {NULL}, *usage_values[5] = {NULL}, *result = NULL;
    memset(values, 0, sizeof values);
    c->copied.length = 0;
    while ((r = next_field(&b, &f)) == 0) {
        switch (f.number) {
        case 1: if (f.wire_type == 2) trace_id = f.bytes; break;
        case 2: if (f.wire_type == 2) span_id = f.bytes; break;
        case 7: if (f.wire_type == 1) start = f.scalar; break;
        case 8: if (f.wire_type == 1) end = f.scalar; break;
        case 16: if (f.wire_type == 5) flags = f.scalar; break;
        case 15: { /* Status { string message = 2; StatusCode code = 3; } */
            Buf s = f.bytes;
            Field g;
            int q;
            if (f.wire_type != 2) break;
            while ((q = next_field(&s, &g)) == 0)
                if (g.number == 3 && g.wire_type == 0) status = g.scalar;
            if (q < 0) return malformed();
            break;
        }
        case 9: { /* attributes: KeyValue */
            Buf key, value;
            if (f.wire_type != 2) break;
            if (key_value(f.bytes, &key, &value) < 0) return malformed();
            if (key.p == NULL) break;
            const Wanted *w = lookup(c->table, key);
            if (w == NULL) break;
            if (w->role >= 0) values[w->role] = present_value(key, value);
            if (w->copy && out_field(&c->copied, c->copy_tag, f.bytes) < 0) return NULL;
            break;
        }
        }
    }
    if (r < 0) return malformed();
    if (values[R_OPERATION].p == NULL) return Py_NewRef(Py_None);
    PyObject *operation = any_value(values[R_OPERATION]);
    if (operation == NULL) return NULL;
    int is_call = PyObject_IsTrue(operation);
    if (is_call <= 0) {
        Py_DECREF(operation);
        return is_call < 0 ? NULL : Py_NewRef(Py_None);
    }
    items[0] = PyLong_FromSsize_t(resource_index);
    items[1] = role_value(values, R_PROVIDER);
    items[2] = operation;
    items[3] = role_value(values, R_REQUEST_MODEL);
    items[4] = role_value(values, R_RESPONSE_MODEL);
    PyObject *error = role_value(values, R_ERROR_TYPE);
    if (error != NULL) {
        items[5] = error == Py_None ? PyUnicode_FromStringAndSize("", 0) : text_of(c, error);
        Py_DECREF(error);
    }
    if (items[5] != NULL && !PyUnicode_Check(items[5])) {
        PyErr_SetString(PyExc_TypeError, "scan_calls: as_text must return str");
        Py_CLEAR(items[5]);
    }
    if (items[5] != NULL && PyUnicode_GET_LENGTH(items[5]) == 0 && status == 2)
        Py_SETREF(items[5], PyUnicode_FromString("_OTHER")); /* an error status with no error.type */
    items[6] = role_value(values, R_USER);
    items[7] = role_value(values, R_TENANT);
    for (int i = 0; i < 8; i++)
        if (items[i] == NULL) goto done;
    double seconds = end > start ? (double)(end - start) / 1e9 : 0.0;
    measures[0] = PyFloat_FromDouble(seconds);
    if (values[R_INPUT_TOKENS].p == NULL && values[R_OUTPUT_TOKENS].p == NULL) {
        measures[2] = Py_NewRef(Py_None);
    } else {
        for (int i = 0; i < 5; i++)
            if ((usage_values[i] = role_value(values, TOKEN_ROLES[i])) == NULL) goto done;
        measures[2] = counted_usage(usage_values);
    }
    measures[1] = role_value(values, MEASURE_ROLES[0]);
    for (int i = 1; i < 7; i++) measures[2 + i] = role_value(values, MEASURE_ROLES[i]);
    for (int i = 0; i < 9; i++)
        if (measures[i] == NULL) goto done;
    items[8] = PyTuple_New(9);
    if (items[8] == NULL) goto done;
    for (int i = 0; i < 9; i++) {
        PyTuple_SET_ITEM(items[8], i, measures[i]);
        measures[i] = NULL;
    }
    items[9] = c->limit < 0 ? Py_NewRef(Py_None)
                            : call_record(c, values, trace_id, span_id, flags, start, status, seconds,
                                          PyTuple_GET_ITEM(items[8], 2), items[5]);
    if (items[9] == NULL) goto done;
    result = PyTuple_New(10);
    if (result == NULL) goto done;
    for (int i = 0; i < 10; i++) {
        PyTuple_SET_ITEM(result, i, items[i]);
        items[i] = NULL;
    }
done:
    for (int i = 0; i < 10; i++) Py_XDECREF(items[i]);
    for (int i = 0; i < 9; i++) Py_XDECREF(measures[i]);
    for (int i = 0; i < 5; i++) Py_XDECREF(usage_values[i]);
    return result;
}

static int add_call(Buf span, const Py_ssize_t where[3], void *context) {
    Calls *c = context;
    PyObject *call = read_call(c, span, where[0]);
    if (call == NULL) return -1;
    int failed = call != Py_None && PyList_Append(c->calls, call) < 0;
    Py_DECREF(call);
    return failed ? -1 : 0;
}

static PyObject *scan_calls(PyObject *self, PyObject *args) {
    Py_buffer data;
    PyObject *roles, *copied, *added, *event, *as_text;
    int copy_tag;
    Py_ssize_t limit;
    unsigned long long now_ns;
    if (!PyArg_ParseTuple(args, "y*O!O!O!UiKnO", &data, &PyTuple_Type, &roles, &PyTuple_Type, &copied, &PyTuple_Type,
                          &added, &event, &copy_tag, &now_ns, &limit, &as_text))
        return NULL;
    Calls c = {NULL, roles, added, event, as_text, NULL, (uint8_t)copy_tag, limit, now_ns, {0}, {0}, {0}, {0}};
    if (PyTuple_GET_SIZE(added) != ADDED) {
        PyErr_SetString(PyExc_ValueError, "scan_calls: wrong number of added names");
        goto done;
    }
    if ((c.table = role_table("scan_calls", roles, ROLES, copied, 1)) == NULL) goto done;
    c.calls = PyList_New(0);
    Buf request = {data.buf, (const uint8_t *)data.buf + data.len};
    if (c.calls != NULL && each_item(request, add_call, &c) < 0) Py_CLEAR(c.calls);
done:
    PyMem_Free(c.copied.data);
    PyMem_Free(c.record.data);
    PyMem_Free(c.value.data);
    PyMem_Free(c.kv.data);
    PyMem_Free(c.table);
    PyBuffer_Release(&data);
    return c.calls;
}

/* ---- scan_usage: what the cost processor prices each GenAI span by ------------------------------------- */

/* The keys scan_usage reads, by their place in its `roles` argument. */
enum {
    U_OPERATION, U_PROVIDER, U_RESPONSE_MODEL, U_REQUEST_MODEL, U_INPUT_TOKENS, U_OUTPUT_TOKENS, U_CACHE_READ_TOKENS,
    U_CACHE_WRITE_TOKENS, U_REASONING_TOKENS, USAGE_ROLES
};

typedef struct {
    KeyTable *table;
    Py_ssize_t spans;
    int forged; /* a span carries one of the `ours` keys */
    PyObject *rows;
} Usages;

static int add_usage(Buf span, const Py_ssize_t where[3], void *context) {
    Usages *u = context;
    Field f;
    int r;
    uint64_t start = 0;
    Buf values[USAGE_ROLES];
    memset(values, 0, sizeof values);
    Py_ssize_t position = u->spans++;
    while ((r = next_field(&span, &f)) == 0) {
        if (f.number == 7 && f.wire_type == 1) start = f.scalar;
        if (f.number != 9 || f.wire_type != 2) continue;
        Buf key, value;
        if (key_value(f.bytes, &key, &value) < 0) return (malformed(), -1);
        if (key.p == NULL) continue;
        const Wanted *w = lookup(u->table, key);
        if (w == NULL) continue;
        if (w->role < 0) u->forged = 1;
        else values[w->role] = present_value(key, value); /* the last counts */
    }
    if (r < 0) return (malformed(), -1);
    if (values[U_OPERATION].p == NULL) return 0;
    PyObject *items[6] = {PyLong_FromSsize_t(position), PyLong_FromUnsignedLongLong(start),
                          role_value(values, U_PROVIDER), role_value(values, U_RESPONSE_MODEL),
                          role_value(values, U_REQUEST_MODEL), NULL};
    PyObject *counts[5] = {NULL};
    int failed = 0;
    for (int i = 0; i < 5; i++) failed = failed || items[i] == NULL;
    if (!failed && values[U_INPUT_TOKENS].p == NULL && values[U_OUTPUT_TOKENS].p == NULL) {
        items[5] = Py_NewRef(Py_None);
    } else if (!failed) {
        for (int i = 0; i < 5; i++) failed = failed || (counts[i] = role_value(values, U_INPUT_TOKENS + i)) == NULL;
        if (!failed) items[5] = counted_usage(counts);
    }
    for (int i = 0; i < 5; i++) Py_XDECREF(counts[i]);
    PyObject *row = items[5] == NULL ? NULL : PyTuple_New(6);
    if (row != NULL) {
        for (int i = 0; i < 6; i++) PyTuple_SET_ITEM(row, i, items[i]);
    } else {
        for (int i = 0; i < 6; i++) Py_XDECREF(items[i]);
        return -1;
    }
    failed = PyList_Append(u->rows, row) < 0;
    Py_DECREF(row);
    return failed ? -1 : 0;
}

static PyObject *scan_usage(PyObject *self, PyObject *args) {
    Py_buffer data;
    PyObject *roles, *ours, *result = NULL;
    if (!PyArg_ParseTuple(args, "y*O!O!", &data, &PyTuple_Type, &roles, &PyTuple_Type, &ours)) return NULL;
    Usages u = {NULL, 0, 0, NULL};
    if ((u.table = role_table("scan_usage", roles, USAGE_ROLES, ours, 0)) == NULL) goto done;
    u.rows = PyList_New(0);
    Buf request = {data.buf, (const uint8_t *)data.buf + data.len};
    if (u.rows != NULL && each_item(request, add_usage, &u) == 0)
        result = Py_BuildValue("(niO)", u.spans, u.forged, u.rows);
done:
    Py_XDECREF(u.rows);
    PyMem_Free(u.table);
    PyBuffer_Release(&data);
    return result;
}

/* ---- call_rows: llmtap.llm_call records as llm_calls rows (RowBinary) ------------------------------------ */

/* The record attributes call_rows reads, by their place in its `keys` argument: llm_calls' columns in order. */
enum {
    C_PROVIDER, C_OPERATION, C_REQUEST_MODEL, C_RESPONSE_MODEL, C_INPUT_TOKENS, C_OUTPUT_TOKENS, C_CACHE_READ_TOKENS,
    C_CACHE_WRITE_TOKENS, C_REASONING_TOKENS, C_COST, C_DURATION, C_TIME_TO_FIRST_TOKEN, C_STATUS, C_ERROR_TYPE,
    C_FINISH_REASONS, C_USER, C_TENANT, C_SESSION, C_PII, C_INPUT_PREVIEW, C_OUTPUT_PREVIEW, COLUMN_KEYS
};

/* An AnyValue's fields as ClickHouse's Protobuf input reads them into the staging tables' tuples: each field's
 * last value, and the case the last valid field sets (0: none). */
typedef struct {
    int kind;
    Buf string, array;
    int64_t integer;
    double number;
    int boolean;
} Value;

static int read_value(Buf b, Value *v) {
    Field f;
    int r;
    memset(v, 0, sizeof *v);
    while ((r = next_field(&b, &f)) == 0) {
        if (f.number < 1 || f.number > 7 || f.wire_type != ANY_VALUE_WIRE_TYPES[f.number]) continue;
        v->kind = (int)f.number;
        switch (f.number) {
        case 1: v->string = f.bytes; break;
        case 2: v->boolean = f.scalar != 0; break;
        case 3: v->integer = (int64_t)f.scalar; break;
        case 4: memcpy(&v->number, &f.scalar, sizeof v->number); break;
        case 5: v->array = f.bytes; break;
        }
    }
    return r < 0 ? -1 : 0;
}

static int row_string(Out *o, Buf s) {
    return out_varint(o, (uint64_t)(s.end - s.p)) < 0 ? -1 : out_append(o, s.p, s.end - s.p);
}

static int row_text(Out *o, const char *s) {
    return row_string(o, (Buf){(const uint8_t *)s, (const uint8_t *)s + strlen(s)});
}

static int row_fixed(Out *o, uint64_t v) {
    uint8_t bytes[8];
    for (int i = 0; i < 8; i++) bytes[i] = (uint8_t)(v >> (8 * i));
    return out_append(o, bytes, 8);
}

static int row_double(Out *o, double d) {
    uint64_t bits;
    memcpy(&bits, &d, 8);
    return row_fixed(o, bits);
}

static int row_hex(Out *o, Buf id) {
    static const char DIGITS[] = "0123456789abcdef";
    if (out_varint(o, (uint64_t)(2 * (id.end - id.p))) < 0) return -1;
    for (const uint8_t *p = id.p; p < id.end; p++) {
        uint8_t pair[2] = {(uint8_t)DIGITS[*p >> 4], (uint8_t)DIGITS[*p & 15]};
        if (out_append(o, pair, 2) < 0) return -1;
    }
    return 0;
}

/* A number as the view's multiIf reads it: a double, an int as a double, else NULL (has = 0). */
static double value_number(const Value *v, int *has) {
    *has = v->kind == 4 || v->kind == 3;
    return v->kind == 4 ? v->number : (double)v->integer;
}

static int row_nullable(Out *o, const Value *v) {
    int has;
    double d = value_number(v, &has);
    uint8_t null = !has;
    return out_append(o, &null, 1) < 0 ? -1 : has ? row_double(o, d) : 0;
}

/* The string elements of an array value (others as empty strings), as Array(String). */
static int row_strings(Out *o, Buf array) {
    Field f;
    int r;
    uint64_t n = 0;
    Buf b = array;
    while ((r = next_field(&b, &f)) == 0) n += f.number == 1 && f.wire_type == 2;
    if (r < 0 || out_varint(o, n) < 0) return -1;
    b = array;
    while ((r = next_field(&b, &f)) == 0) {
        Value element;
        if (f.number != 1 || f.wire_type != 2) continue;
        if (read_value(f.bytes, &element) < 0 || row_string(o, element.string) < 0) return -1;
    }
    return r < 0 ? -1 : 0;
}

typedef struct {
    KeyTable *table;
    Buf event, service_key;
    Buf service; /* the current resource's service.name */
    Out rows;
} Rows;

/* One record's row, if it is the event: 0; -1 on malformed input (no exception set); -2 with an exception set. */
static int add_row(Rows *rows, Buf record) {
    Field f;
    int r;
    uint64_t time = 0, observed = 0;
    Buf trace_id = {0}, span_id = {0}, event = {0}, values[COLUMN_KEYS];
    memset(values, 0, sizeof values);
    while ((r = next_field(&record, &f)) == 0) {
        switch (f.number) {
        case 1: if (f.wire_type == 1) time = f.scalar; break;
        case 11: if (f.wire_type == 1) observed = f.scalar; break;
        case 9: if (f.wire_type == 2) trace_id = f.bytes; break;
        case 10: if (f.wire_type == 2) span_id = f.bytes; break;
        case 12: if (f.wire_type == 2) event = f.bytes; break;
        case 6: { /* attributes: the first KeyValue of each key, as indexOf finds it */
            Buf key, value;
            if (f.wire_type != 2) break;
            if (key_value(f.bytes, &key, &value) < 0) return -1;
            if (key.p == NULL) break;
            const Wanted *w = lookup(rows->table, key);
            if (w != NULL && values[w->role].p == NULL) values[w->role] = present_value(key, value);
            break;
        }
        }
    }
    if (r < 0) return -1;
    if (!same_bytes(event, rows->event)) return 0;
    Value v[COLUMN_KEYS];
    for (int i = 0; i < COLUMN_KEYS; i++)
        if (read_value(values[i], &v[i]) < 0) return -1;
    Out *o = &rows->rows;
    int has;
    double seconds = value_number(&v[C_DURATION], &has);
    seconds = has && seconds > 0 ? nearbyint(seconds * 1e9) : 0; /* round(): ties to even for floats */
    if (!(seconds < 18446744073709551616.0)) seconds = 0; /* beyond UInt64 (or NaN): no duration */
    Buf status = v[C_STATUS].string;
    Py_ssize_t status_length = status.end - status.p;
    const char *status_code = status_length == 5 && memcmp(status.p, "ERROR", 5) == 0 ? "Error"
                              : status_length == 2 && memcmp(status.p, "OK", 2) == 0  ? "Ok"
                                                                                      : "Unset";
    if (row_fixed(o, time != 0 ? time : observed) < 0 || row_hex(o, trace_id) < 0 || row_hex(o, span_id) < 0 ||
        row_string(o, rows->service) < 0)
        return -2;
    for (int i = C_PROVIDER; i <= C_RESPONSE_MODEL; i++)
        if (row_string(o, v[i].string) < 0) return -2;
    for (int i = C_INPUT_TOKENS; i <= C_REASONING_TOKENS; i++)
        if (row_fixed(o, v[i].integer > 0 ? (uint64_t)v[i].integer : 0) < 0) return -2;
    uint8_t pii = (uint8_t)v[C_PII].boolean;
    if (row_nullable(o, &v[C_COST]) < 0 || row_fixed(o, (uint64_t)seconds) < 0 ||
        row_nullable(o, &v[C_TIME_TO_FIRST_TOKEN]) < 0 || row_text(o, status_code) < 0 ||
        row_string(o, v[C_ERROR_TYPE].string) < 0 || row_strings(o, v[C_FINISH_REASONS].array) < 0 ||
        row_string(o, v[C_USER].string) < 0 || row_string(o, v[C_TENANT].string) < 0 ||
        row_string(o, v[C_SESSION].string) < 0 || out_append(o, &pii, 1) < 0 ||
        row_string(o, v[C_INPUT_PREVIEW].string) < 0 || row_string(o, v[C_OUTPUT_PREVIEW].string) < 0)
        return -2;
    return 0;
}

/* The service.name of a Resource (its first such attribute's string value). */
static int resource_service(Rows *rows, Buf resource) {
    Field f;
    int r;
    rows->service = (Buf){NULL, NULL};
    while ((r = next_field(&resource, &f)) == 0) {
        Buf key, value;
        if (f.number != 1 || f.wire_type != 2) continue;
        if (key_value(f.bytes, &key, &value) < 0) return -1;
        if (key.p == NULL || !same_bytes(key, rows->service_key)) continue;
        Value v;
        if (read_value(value, &v) < 0) return -1;
        rows->service = v.string;
        return 0;
    }
    return r < 0 ? -1 : 0;
}

static PyObject *malformed_logs(void) {
    PyErr_SetString(PyExc_ValueError, "not a valid ExportLogsServiceRequest");
    return NULL;
}

/* call_rows' hooks into each_item_entering: a ResourceLogs' service.name, then each of its records' rows. */
static int enter_resource_logs(Buf resource_logs, void *context) {
    Field f;
    int r;
    Buf resource = {NULL, NULL};
    while ((r = next_field(&resource_logs, &f)) == 0) /* the resource, wherever it is among the scopes */
        if (f.number == 1 && f.wire_type == 2) resource = f.bytes;
    return r < 0 || resource_service(context, resource) < 0 ? (malformed_logs(), -1) : 0;
}

static int add_record_row(Buf record, const Py_ssize_t where[3], void *context) {
    int r = add_row(context, record);
    if (r == -1) malformed_logs();
    return r < 0 ? -1 : 0;
}

static PyObject *call_rows(PyObject *self, PyObject *args) {
    Py_buffer data, event, service_key;
    PyObject *keys, *result = NULL;
    if (!PyArg_ParseTuple(args, "y*O!y*y*", &data, &PyTuple_Type, &keys, &event, &service_key)) return NULL;
    Rows rows = {NULL, {event.buf, (const uint8_t *)event.buf + event.len},
                 {service_key.buf, (const uint8_t *)service_key.buf + service_key.len}, {NULL, NULL}, {0}};
    if ((rows.table = role_table("call_rows", keys, COLUMN_KEYS, NULL, 0)) == NULL) goto done;
    Buf request = {data.buf, (const uint8_t *)data.buf + data.len};
    if (each_item_entering(request, enter_resource_logs, add_record_row, &rows) < 0) {
        if (PyErr_ExceptionMatches(PyExc_ValueError)) { /* each_item's own says a trace request */
            PyErr_Clear();
            malformed_logs();
        }
        goto done;
    }
    result = PyBytes_FromStringAndSize((const char *)rows.rows.data, (Py_ssize_t)rows.rows.length);
done:
    PyMem_Free(rows.rows.data);
    PyMem_Free(rows.table);
    PyBuffer_Release(&data);
    PyBuffer_Release(&event);
    PyBuffer_Release(&service_key);
    return result;
}

static PyMethodDef methods[] = {
    {"append_to_spans", append_to_spans, METH_VARARGS,
     "append_to_spans(data, additions) -> bytes: the ExportTraceServiceRequest with additions[i] (bytes: "
     "encoded Span fields, such as attributes) appended to the i-th span in the request's order (scan_usage's position)."},
    {"scan_resources", scan_resources, METH_VARARGS,
     "scan_resources(data) -> [(resource, schema_url)]: each ResourceSpans' Resource message bytes and schema "
     "URL, in order."},
    {"content_text", content_text, METH_VARARGS,
     "content_text(data, keys, prefixes) -> (text, flagged): every string in the span and event attributes "
     "whose key is a content key (keys[key] false, or starting with one of `prefixes`, bytes), as it is and "
     "then its double-quoted strings decoded as JSON, each followed by scanner._LEAF_SEPARATOR, as UTF-8; "
     "flagged: whether a key with keys[key] true (a PII flag) is present, or a content value nests too deep "
     "to read here (either way the caller must read the spans)."},
    {"encode_attributes", encode_attributes, METH_VARARGS,
     "encode_attributes(mapping, tag) -> bytes: each key and value (str, bool, int or float; None is left "
     "out) as a KeyValue framed as field `tag` (a one-byte protobuf tag)."},
    {"message_preview", message_preview, METH_VARARGS,
     "message_preview(text, limit, last_user) -> str | None: the first `limit` characters of the text of a "
     "JSON message list (each message's `content` string, else its first text part): the first message's "
     "with text, or with `last_user` the last user message's if there is one. None when `text` is not one "
     "JSON array."},
    {"usage_counts", usage_counts, METH_VARARGS,
     "usage_counts(input, output, cache_read, cache_write, reasoning) -> (int, int, int, int, int): token counts "
     "from attribute values (ints, floats truncated, numeric strings; anything else 0), made inclusive: input "
     "at least cache read + cache write, output at least reasoning."},
    {"scan_usage", scan_usage, METH_VARARGS,
     "scan_usage(data, roles, ours) -> (spans, forged, [row]): the number of spans of an ExportTraceServiceRequest, "
     "whether any carries a key of `ours`, and per span with the first key of `roles` (gen_ai.operation.name) "
     "(position, start_time_unix_nano, provider, response_model, request_model, usage_counts or None) from the "
     "values of `roles` (the cost processor's _ROLES order)."},
    {"scan_calls", scan_calls, METH_VARARGS,
     "scan_calls(data, roles, copied, added, event, copy_tag, now_ns, limit, as_text) -> [call]: per span of an "
     "ExportTraceServiceRequest with a true gen_ai.operation.name, (resource_index, provider, operation, "
     "request_model, response_model, error_type, user, tenant, measures, record): the values of the keys in "
     "`roles` (the connector's _ROLES order), measures (duration s, ttft, usage_counts or None, cost parts, "
     "cache savings) and its llmtap.llm_call LogRecord (None when limit < 0) framed as ScopeLogs.log_records, "
     "with the KeyValues of `copied` framed as `copy_tag` and the record's own attributes named by `added`."},
    {"call_rows", call_rows, METH_VARARGS,
     "call_rows(data, keys, event, service_key) -> bytes: the log records of an ExportLogsServiceRequest whose "
     "event_name is `event`, as llm_calls rows in ClickHouse's RowBinary format, read as the llm_calls view reads "
     "them (`keys`: the record attributes of its columns, in the exporter's CALL_KEYS order)."},
    {"json_leaves", json_leaves, METH_O,
     "json_leaves(text) -> (joined, bounds) | None: the string values of a JSON document (an object or an "
     "array; keys are not values), decoded and each followed by scanner._LEAF_SEPARATOR, and per value four "
     "character offsets: its body's start and end in `text` and in `joined`; None when `text` is not one "
     "JSON document as Python's json reads it (or nests deeper than 512)."},
    {"events_only", events_only, METH_VARARGS,
     "events_only(data, name) -> bool: whether an ExportLogsServiceRequest has log records and every one of "
     "them is the event `name` (its event_name, bytes)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_wire", NULL, -1, methods};

PyMODINIT_FUNC PyInit__wire(void) {
    return PyModule_Create(&module);
}
