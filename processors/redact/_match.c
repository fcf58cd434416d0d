/* llmtap.processors.redact._match: the redactor's detectors confirmed and checked, one call per text.
 *
 * Hyperscan (through its Python binding) reports where each detector's pattern can match. This runs each
 * detector's exact pattern (PCRE2, JIT-compiled: lookarounds, a value group `v`) at those places only, and
 * the detector's check (Luhn, IBAN mod-97, ...) on each value it matched. Done in Python, this was ~4 us per
 * place and most of what a PII-dense text cost. See scanner.py for the Python side and detectors.py for the
 * detectors; tests/test_processor_redact.py scores the whole on the labelled corpus.
 */
#define PY_SSIZE_T_CLEAN
#define PCRE2_CODE_UNIT_WIDTH 8
#include <Python.h>
#include <arpa/inet.h>
#include <math.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_SPANS 256 /* beyond this many places in one text, a detector is run over the whole text */
#define MARGIN 2      /* characters after a place that an exact pattern's lookahead may read */
#define WHOLE_TEXT_DONE (-1)

/* ---- checks: what a match must also be. Each reads the value's UTF-8 bytes. ------------------------------- */

typedef int (*Check)(const uint8_t *v, Py_ssize_t n);

static int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
static int is_space(uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* Not both a space and a dash as separators. */
static int one_separator(const uint8_t *v, Py_ssize_t n) {
    return !(memchr(v, ' ', n) != NULL && memchr(v, '-', n) != NULL);
}

static int luhn(const char *d, int n) {
    int total = 0;
    for (int i = 0; i < n; i++) {
        int x = d[n - 1 - i] - '0';
        if (i % 2) x = x > 4 ? x * 2 - 9 : x * 2;
        total += x;
    }
    return total % 10 == 0;
}

/* Luhn-valid, 12 to 19 digits, and an issuer prefix a card network uses (half of random digit runs that pass
 * Luhn by chance start with a digit no network issues): 4, 5x, 6x, 3[04-9], 2221-2720 (Mastercard). */
static int card(const uint8_t *v, Py_ssize_t n) {
    char d[19];
    int nd = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (v[i] == ' ' || v[i] == '-') continue;
        if (nd == 19 || !is_digit(v[i])) return 0;
        d[nd++] = (char)v[i];
    }
    if (nd < 12 || !one_separator(v, n)) return 0;
    int p = d[0] - '0', q = d[1] - '0', r = d[2] - '0', s = d[3] - '0';
    int issued = p == 4 || p == 5 || p == 6 || (p == 3 && (q == 0 || q >= 4)) ||
                 (p == 2 && ((q == 2 && ((r >= 2 && s >= 1) || r >= 3)) || (q >= 3 && q <= 6) ||
                             (q == 7 && (r <= 1 || (r == 2 && s == 0)))));
    return issued && luhn(d, nd);
}

/* IBAN length per country (ISO 13616 registry). */
static const char IBAN_LENGTHS[] =
    "AD24AE23AL28AT20AZ28BA20BE16BG22BH22BR29BY28CH21CR22CY28CZ24DE22DK18DO28EE20EG29ES24FI18FO18FR27GB22GE22GI23"
    "GL18GR27GT28HR21HU28IE22IL23IQ23IS26IT27JO30KW30KZ20LB28LC32LI21LT20LU20LV21MC27MD24ME22MK19MR27MT31MU30NL18"
    "NO15PK24PL28PS29PT25QA29RO24RS22SA24SC31SE24SI19SK24SM27ST25SV28TL23TN24TR26UA29VA22VG24XK20";

/* The registered length for its country and the ISO 7064 mod-97 checksum. */
static int iban(const uint8_t *v, Py_ssize_t n) {
    char s[40];
    int ns = 0, expected = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (v[i] == ' ') continue;
        if (ns == 40) return 0;
        s[ns++] = (char)v[i];
    }
    if (ns < 5) return 0;
    for (const char *c = IBAN_LENGTHS; *c; c += 4)
        if (c[0] == s[0] && c[1] == s[1]) expected = (c[2] - '0') * 10 + (c[3] - '0');
    if (expected != ns) return 0;
    int rest = 0;
    for (int k = 0; k < ns; k++) {
        char c = s[(k + 4) % ns]; /* the first four characters moved to the end */
        int x = is_digit((uint8_t)c) ? c - '0' : (c >= 'A' && c <= 'Z') ? c - 'A' + 10 : -1;
        if (x < 0) return 0;
        rest = x >= 10 ? (rest * 100 + x) % 97 : (rest * 10 + x) % 97;
    }
    return rest == 1;
}

/* Numbers the SSA never issues: area 000, 666 or 9xx, group 00, serial 0000. */
static int ssn(const uint8_t *v, Py_ssize_t n) {
    char d[9];
    int nd = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (v[i] == ' ' || v[i] == '-') continue;
        if (nd == 9) return 0;
        d[nd++] = (char)v[i];
    }
    return nd == 9 && one_separator(v, n) && memcmp(d, "000", 3) != 0 && memcmp(d, "666", 3) != 0 &&
           d[0] != '9' && memcmp(d + 3, "00", 2) != 0 && memcmp(d + 5, "0000", 4) != 0;
}

/* No octet with a leading zero (`010.1.1.1` reads as octal in some tools: more likely a version). */
static int ipv4(const uint8_t *v, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (v[i] == '0' && (i == 0 || v[i - 1] == '.') && i + 1 < n && v[i + 1] != '.') return 0;
    return 1;
}

/* A valid address with at least three groups written out (or the loopback `::1`): C++'s `a::b` is valid IPv6
 * text too. */
static int ipv6(const uint8_t *v, Py_ssize_t n) {
    char text[64];
    unsigned char address[16];
    if (n >= (Py_ssize_t)sizeof text) return 0;
    memcpy(text, v, n);
    text[n] = 0;
    if (inet_pton(AF_INET6, text, address) != 1) return 0;
    if (strcmp(text, "::1") == 0) return 1;
    int groups = 0;
    for (Py_ssize_t i = 0; i < n; i++) groups += v[i] != ':' && (i == 0 || v[i - 1] == ':');
    return groups >= 3;
}

/* A run of digits, its length in *len; 0 where there is none. */
static Py_ssize_t digit_run(const uint8_t *v, Py_ssize_t n, Py_ssize_t at, int *len) {
    Py_ssize_t k = at;
    while (k < n && is_digit(v[k])) k++;
    *len = (int)(k - at);
    return k;
}

/* \d{4}[-./]\d{1,2}[-./]\d{1,2} or \d{1,2}[-./]\d{1,2}[-./]\d{2,4}, the whole of it. */
static int date_like(const uint8_t *v, Py_ssize_t n) {
    int a, b, c;
    Py_ssize_t k = digit_run(v, n, 0, &a);
    if (k >= n || !strchr("-./", v[k])) return 0;
    k = digit_run(v, n, k + 1, &b);
    if (k >= n || !strchr("-./", v[k])) return 0;
    k = digit_run(v, n, k + 1, &c);
    if (k != n || b < 1 || b > 2) return 0;
    return (a == 4 && c >= 1 && c <= 2) || (a >= 1 && a <= 2 && c >= 2 && c <= 4);
}

/* Where ` x12`, ` ext. 12` or ` extension 12` begins (\s*(?:x|ext\.?|extension)\s*\d), else n. */
static Py_ssize_t extension_at(const uint8_t *v, Py_ssize_t n) {
    for (Py_ssize_t k = 0; k < n; k++) {
        Py_ssize_t p = k, ends[3];
        int m = 0;
        while (p < n && is_space(v[p])) p++;
        if (p < n && v[p] == 'x') ends[m++] = p + 1;
        if (n - p >= 3 && memcmp(v + p, "ext", 3) == 0) ends[m++] = p + 3 + (p + 3 < n && v[p + 3] == '.');
        if (n - p >= 9 && memcmp(v + p, "extension", 9) == 0) ends[m++] = p + 9;
        for (int j = 0; j < m; j++) {
            Py_ssize_t q = ends[j];
            while (q < n && is_space(v[q])) q++;
            if (q < n && is_digit(v[q])) return k;
        }
    }
    return n;
}

/* Told apart from the other digit runs of LLM traffic: 8 to 15 digits in international form (`+`/`00`), or 7
 * to 12 written in groups that dates, decimals, versions and card numbers do not have. */
static int phone(const uint8_t *v, Py_ssize_t n) {
    Py_ssize_t end = extension_at(v, n), start = 0;
    while (start < end && is_space(v[start])) start++;
    while (end > start && is_space(v[end - 1])) end--;
    const uint8_t *c = v + start;
    Py_ssize_t len = end - start;
    int digits = 0, open = 0, close = 0, dot = 0, groups = 0, first = 0, longest = 0, run = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        digits += is_digit(c[i]);
        open += c[i] == '(';
        close += c[i] == ')';
        dot |= c[i] == '.';
        if (strchr(" .()-", c[i]) == NULL) {
            if (run++ == 0) groups++;
            if (groups == 1) first = run;
            if (run > longest) longest = run;
        } else {
            run = 0;
        }
    }
    if (len > 0 && (c[0] == '+' || (len > 2 && c[0] == '0' && c[1] == '0' && c[2] != '0')))
        return digits >= 8 && digits <= 15;
    if (digits < 7 || digits > 12 || date_like(c, len)) return 0;
    if (len == 11 && (c[3] == '-' || c[3] == ' ') && c[6] == c[3] && is_digit(c[0]) && is_digit(c[1]) &&
        is_digit(c[2]) && is_digit(c[4]) && is_digit(c[5]) && is_digit(c[7]) && is_digit(c[8]) &&
        is_digit(c[9]) && is_digit(c[10]))
        return 0; /* an SSN's shape */
    if (open) return open == close;
    if (groups < 2) return 0;
    if (dot && (groups != 3 || first < (c[0] == '0' ? 2 : 3))) return 0; /* 3.14, 1.2.3; not 206.269.0743 */
    if (c[0] != '0' && longest > 5) return 0;
    if (longest <= 2) return c[0] == '0' && groups == 5; /* 07 88 35 33 74 (France), not small numbers */
    return 1;
}

/* The code point UTF-8 begins at `v` (of `n` bytes) into *cp; the bytes it takes. */
static int decode_utf8(const uint8_t *v, Py_ssize_t n, uint32_t *cp) {
    uint8_t b = v[0];
    int extra = b < 0x80 ? 0 : b < 0xe0 ? 1 : b < 0xf0 ? 2 : 3;
    *cp = extra == 0 ? b : extra == 1 ? b & 0x1f : extra == 2 ? b & 0x0f : b & 0x07;
    for (int j = 1; j <= extra && j < n; j++) *cp = (*cp << 6) | (v[j] & 0x3f);
    return extra + 1;
}

/* The value's characters (code points); the caller frees them. */
static uint32_t *code_points(const uint8_t *v, Py_ssize_t n, Py_ssize_t *count) {
    uint32_t *out = PyMem_Malloc((n + 1) * sizeof *out);
    Py_ssize_t k = 0;
    if (out == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n;) i += decode_utf8(v + i, n - i, &out[k++]);
    *count = k;
    return out;
}

static int one_of(const uint8_t *v, Py_ssize_t n, const char *const *words) {
    for (; *words; words++)
        if ((Py_ssize_t)strlen(*words) == n && strncasecmp((const char *)v, *words, n) == 0) return 1;
    return 0;
}

static int compare_code_points(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static const char *const NOT_SECRETS[] = {"true", "false", "null", "none", "required", "optional", NULL};

/* A value after `key=`/`token:` that looks generated: long and mixed enough that it is not a word, a number
 * or a setting (`max_tokens: 4096`, `auth: required`): two kinds of characters and 3 bits of entropy each. */
static int secret(const uint8_t *v, Py_ssize_t n) {
    Py_ssize_t count;
    if (one_of(v, n, NOT_SECRETS)) return 0;
    uint32_t *cp = code_points(v, n, &count);
    if (cp == NULL) return -1;
    int lower = 0, upper = 0, digit = 0, other = 0, result = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        lower |= Py_UNICODE_ISLOWER(cp[i]);
        upper |= Py_UNICODE_ISUPPER(cp[i]);
        digit |= Py_UNICODE_ISDIGIT(cp[i]) ? 1 : 0;
        other |= !Py_UNICODE_ISALNUM(cp[i]);
    }
    int all_digits = 1;
    for (Py_ssize_t i = 0; i < count; i++) all_digits &= Py_UNICODE_ISDIGIT(cp[i]) ? 1 : 0;
    if (count >= 8 && lower + upper + digit + other >= 2 && !all_digits) {
        double entropy = 0;
        qsort(cp, count, sizeof *cp, compare_code_points);
        for (Py_ssize_t i = 0, j; i < count; i = j) {
            for (j = i; j < count && cp[j] == cp[i]; j++) {}
            double p = (double)(j - i) / (double)count;
            entropy -= p * log2(p);
        }
        result = entropy >= 3.0;
    }
    PyMem_Free(cp);
    return result;
}

static const char *const NOT_PASSWORDS[] = {"none", "null", "true", "false", "required", "****", "*****", NULL};

static int password(const uint8_t *v, Py_ssize_t n) {
    Py_ssize_t chars = 0;
    for (Py_ssize_t i = 0; i < n; i++) chars += (v[i] & 0xc0) != 0x80;
    return chars >= 4 && !one_of(v, n, NOT_PASSWORDS);
}

static int days_in_month(long year, long month) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return days[month - 1] + (month == 2 && leap);
}

/* A real calendar date in a year someone alive could be born (1900 to this year). */
static int born(long year, long month, long day) {
    time_t now = time(NULL);
    struct tm today;
    localtime_r(&now, &today);
    return year >= 1900 && year <= today.tm_year + 1900 && month >= 1 && month <= 12 && day >= 1 &&
           day <= days_in_month(year, month);
}

static const char MONTHS[12][4] = {"jan", "feb", "mar", "apr", "may", "jun",
                                   "jul", "aug", "sep", "oct", "nov", "dec"};

/* A date of birth as written after a birth keyword: `1985-03-14`, `03/14/85`, `March 14th, 1985`. */
static int birth_date(const uint8_t *v, Py_ssize_t n) {
    long numbers[3] = {0}, day = -1, year = -1;
    int count = 0, month = 0;
    char *text = PyMem_Malloc(n + 1);
    if (text == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) text[i] = (char)(v[i] >= 'A' && v[i] <= 'Z' ? v[i] + 32 : v[i]);
    text[n] = 0;
    for (int m = 0; m < 12 && !month; m++)
        if (strstr(text, MONTHS[m]) != NULL) month = m + 1;
    PyMem_Free(text);
    for (Py_ssize_t i = 0; i < n;) {
        if (!is_digit(v[i])) {
            i++;
            continue;
        }
        long x = 0;
        for (; i < n && is_digit(v[i]); i++) x = x < 100000 ? x * 10 + (v[i] - '0') : x;
        if (count < 3) numbers[count] = x;
        count++;
        if (x <= 31 && day < 0) day = x;
        if (x > 31 && year < 0) year = x;
    }
    if (month) return day >= 0 && year >= 0 && born(year, month, day);
    if (count != 3) return 0;
    if (numbers[0] > 31) return born(numbers[0], numbers[1], numbers[2]);
    long y = numbers[2] < 100 ? numbers[2] + (numbers[2] >= 30 ? 1900 : 2000) : numbers[2];
    return numbers[0] <= 12 ? born(y, numbers[0], numbers[1]) : born(y, numbers[1], numbers[0]);
}

static const struct {
    const char *name;
    Check check;
} CHECKS[] = {{"card", card}, {"iban", iban}, {"ssn", ssn}, {"ipv4", ipv4}, {"ipv6", ipv6}, {"phone", phone},
              {"secret", secret}, {"password", password}, {"birth_date", birth_date}, {NULL, NULL}};

static Check check_named(const char *name) {
    for (int i = 0; CHECKS[i].name; i++)
        if (strcmp(CHECKS[i].name, name) == 0) return CHECKS[i].check;
    return NULL;
}

/* ---- Matcher ------------------------------------------------------------------------------------------ */

typedef struct {
    pcre2_code *code;
    uint32_t value_group; /* the group named `v`, else 0: the whole match */
    Py_ssize_t reach_back;
    int widen;
    Check check;
} Detector;

typedef struct {
    PyObject_HEAD
    Detector *detectors;
    Py_ssize_t count;
    pcre2_match_data *match;
    pcre2_match_context *context;
    pcre2_jit_stack *stack;
} Matcher;

static void matcher_dealloc(Matcher *self) {
    for (Py_ssize_t i = 0; i < self->count; i++) pcre2_code_free(self->detectors[i].code);
    PyMem_Free(self->detectors);
    pcre2_match_data_free(self->match);
    pcre2_match_context_free(self->context);
    pcre2_jit_stack_free(self->stack);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static pcre2_code *compile(PyObject *pattern, int ignore_case, PyObject **error) {
    Py_ssize_t length;
    int code;
    PCRE2_SIZE offset;
    const char *text = PyUnicode_AsUTF8AndSize(pattern, &length);
    if (text == NULL) return NULL;
    pcre2_code *compiled = pcre2_compile((PCRE2_SPTR)text, length, PCRE2_UTF | (ignore_case ? PCRE2_CASELESS : 0),
                                         &code, &offset, NULL);
    if (compiled == NULL) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(code, message, sizeof message);
        *error = PyUnicode_FromFormat("%s at position %zd", (const char *)message, (Py_ssize_t)offset);
    }
    return compiled;
}

static int matcher_init(Matcher *self, PyObject *args, PyObject *kwargs) {
    PyObject *detectors;
    static char *keywords[] = {"detectors", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!", keywords, &PyList_Type, &detectors)) return -1;
    Py_ssize_t count = PyList_GET_SIZE(detectors);
    uint32_t groups = 0;
    self->detectors = PyMem_Calloc(count ? count : 1, sizeof *self->detectors);
    if (self->detectors == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *pattern, *error = NULL;
        int ignore_case, widen;
        const char *check;
        Detector *d = &self->detectors[i];
        if (!PyArg_ParseTuple(PyList_GET_ITEM(detectors, i), "Upnps", &pattern, &ignore_case, &d->reach_back,
                              &widen, &check))
            return -1;
        d->widen = widen;
        d->check = check_named(check);
        if (*check && d->check == NULL) {
            PyErr_Format(PyExc_ValueError, "detector %zd: no check named %s", i, check);
            return -1;
        }
        d->code = compile(pattern, ignore_case, &error);
        if (d->code == NULL) {
            if (error != NULL) PyErr_Format(PyExc_ValueError, "detector %zd: %U", i, error);
            Py_XDECREF(error);
            return -1;
        }
        self->count = i + 1;
        pcre2_jit_compile(d->code, PCRE2_JIT_COMPLETE); /* where the JIT is not available, PCRE2 interprets */
        int v = pcre2_substring_number_from_name(d->code, (PCRE2_SPTR) "v");
        d->value_group = v > 0 ? (uint32_t)v : 0;
        uint32_t captures;
        pcre2_pattern_info(d->code, PCRE2_INFO_CAPTURECOUNT, &captures);
        if (captures > groups) groups = captures;
    }
    self->match = pcre2_match_data_create(groups + 1, NULL);
    self->context = pcre2_match_context_create(NULL);
    self->stack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
    if (self->match == NULL || self->context == NULL || self->stack == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    pcre2_jit_stack_assign(self->context, NULL, self->stack);
    return 0;
}

typedef struct {
    int detector;
    Py_ssize_t start, end; /* bytes */
} Place;

static int compare_places(const void *a, const void *b) {
    const Place *x = a, *y = b;
    if (x->detector != y->detector) return x->detector - y->detector;
    if (x->start != y->start) return (x->start > y->start) - (x->start < y->start);
    return (x->end > y->end) - (x->end < y->end);
}

typedef struct {
    Matcher *m;
    PyObject *text;
    const uint8_t *s; /* the text as UTF-8 (lone surrogates as U+FFFD: same length) */
    Py_ssize_t n;
    int ascii;
    Py_ssize_t *chars; /* byte offset -> character offset, for text that is not ASCII */
    PyObject *found;   /* [(start, end, detector)] in characters */
    Py_ssize_t last_start, last_end;
    int last_detector;
} Text;

static Py_ssize_t back_chars(const Text *t, Py_ssize_t at, Py_ssize_t count) {
    while (count-- > 0 && at > 0) {
        at--;
        while (at > 0 && (t->s[at] & 0xc0) == 0x80) at--;
    }
    return at;
}

static Py_ssize_t forward_chars(const Text *t, Py_ssize_t at, Py_ssize_t count) {
    while (count-- > 0 && at < t->n) {
        at++;
        while (at < t->n && (t->s[at] & 0xc0) == 0x80) at++;
    }
    return at;
}

static Py_ssize_t char_at(const Text *t, Py_ssize_t byte) { return t->ascii ? byte : t->chars[byte]; }

/* The code point that ends at byte `at`, and where it starts. */
static uint32_t previous_code_point(const Text *t, Py_ssize_t at, Py_ssize_t *start) {
    uint32_t cp;
    *start = back_chars(t, at, 1);
    decode_utf8(t->s + *start, at - *start, &cp);
    return cp;
}

/* A match of detector `i`: its value, widened and checked, goes into the findings. */
static int found(Text *t, int i, PCRE2_SIZE *ovector) {
    const Detector *d = &t->m->detectors[i];
    PCRE2_SIZE vs = ovector[2 * d->value_group], ve = ovector[2 * d->value_group + 1];
    if (vs == PCRE2_UNSET || vs >= ve) return 0;
    Py_ssize_t start = (Py_ssize_t)vs, end = (Py_ssize_t)ve;
    while (d->widen && start > 0) { /* `jürgen@` is one address, not `rgen@` */
        Py_ssize_t before;
        uint32_t cp = previous_code_point(t, start, &before);
        if (!Py_UNICODE_ISALNUM(cp) && !(cp != 0 && cp < 128 && strchr("._%+-", (int)cp) != NULL)) break;
        start = before;
    }
    if (i == t->last_detector && start == t->last_start && end == t->last_end) return 0; /* found from two places */
    t->last_detector = i;
    t->last_start = start;
    t->last_end = end;
    if (d->check != NULL) {
        int ok = d->check(t->s + start, end - start);
        if (ok <= 0) return ok;
    }
    PyObject *item = Py_BuildValue("(nni)", char_at(t, start), char_at(t, end), i);
    int r = item == NULL ? -1 : PyList_Append(t->found, item);
    Py_XDECREF(item);
    return r;
}

static int failed(int rc, int i) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(rc, message, sizeof message);
    PyErr_Format(PyExc_RuntimeError, "redact: detector %d: %s", i, (const char *)message);
    return -1;
}

/* Every match of detector `i` from byte `from` in the text's first `limit` bytes. */
static int every_match(Text *t, int i, Py_ssize_t from, Py_ssize_t limit) {
    Matcher *m = t->m;
    while (from <= limit) {
        int rc = pcre2_match(m->detectors[i].code, t->s, limit, from, PCRE2_NO_UTF_CHECK, m->match, m->context);
        if (rc == PCRE2_ERROR_NOMATCH) return 0;
        if (rc < 0) return failed(rc, i);
        PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(m->match);
        if (found(t, i, ovector) < 0) return -1;
        from = ovector[1] > ovector[0] ? (Py_ssize_t)ovector[1] : forward_chars(t, (Py_ssize_t)ovector[1], 1);
        if (ovector[1] == ovector[0] && ovector[1] >= (PCRE2_SIZE)limit) return 0;
    }
    return 0;
}

/* Detector `i` at one place: its first match from the place's start (leftmost: a match starting there, else
 * the first one later in it); every match in it where the start is only known to lie within `reach_back`
 * characters before. */
static int at_place(Text *t, int i, Py_ssize_t start, Py_ssize_t end) {
    Matcher *m = t->m;
    const Detector *d = &m->detectors[i];
    Py_ssize_t from = back_chars(t, start, d->reach_back), limit = forward_chars(t, end, MARGIN);
    if (d->reach_back > 0) return every_match(t, i, from, limit);
    int rc = pcre2_match(d->code, t->s, limit, from, PCRE2_NO_UTF_CHECK, m->match, m->context);
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc < 0) return failed(rc, i);
    return found(t, i, pcre2_get_ovector_pointer(m->match));
}

static PyObject *matcher_find(Matcher *self, PyObject *args) {
    PyObject *text, *reports, *everywhere;
    Py_buffer data;
    if (!PyArg_ParseTuple(args, "Uy*O!O!", &text, &data, &PyList_Type, &reports, &PyTuple_Type, &everywhere))
        return NULL;
    if (PyUnicode_IS_ASCII(text) && data.len != PyUnicode_GET_LENGTH(text)) {
        PyBuffer_Release(&data);
        PyErr_SetString(PyExc_ValueError, "data is not the text's UTF-8");
        return NULL;
    }
    Text t = {self, text, data.buf, data.len, PyUnicode_IS_ASCII(text), NULL, PyList_New(0), -1, -1, -1};
    Py_ssize_t count = PyList_GET_SIZE(reports);
    Place *places = PyMem_Malloc((count ? count : 1) * sizeof *places);
    uint8_t *patched = NULL;
    int *spans = PyMem_Calloc(self->count ? self->count : 1, sizeof *spans);
    if (t.found == NULL || places == NULL || spans == NULL) goto fail;
    for (Py_ssize_t k = 0; k + 2 < t.n; k++) {
        if (t.s[k] == 0xed && t.s[k + 1] >= 0xa0) { /* a lone surrogate ("surrogatepass"): not UTF-8 */
            if (patched == NULL) {
                if ((patched = PyMem_Malloc(t.n)) == NULL) goto fail;
                memcpy(patched, t.s, t.n);
                t.s = patched;
            }
            memcpy(patched + k, "\xef\xbf\xbd", 3);
        }
    }
    if (!t.ascii) {
        if ((t.chars = PyMem_Malloc((t.n + 1) * sizeof *t.chars)) == NULL) goto fail;
        Py_ssize_t c = 0;
        for (Py_ssize_t k = 0; k < t.n; k++) t.chars[k] = (t.s[k] & 0xc0) != 0x80 ? c++ : -1;
        t.chars[t.n] = c;
    }
    for (Py_ssize_t k = 0; k < count; k++) {
        Place *p = &places[k];
        if (!PyArg_ParseTuple(PyList_GET_ITEM(reports, k), "inn", &p->detector, &p->start, &p->end)) goto fail;
        if (p->detector < 0 || p->detector >= self->count || p->start < 0 || p->end > t.n || p->start > p->end) {
            PyErr_SetString(PyExc_ValueError, "a report outside the detectors or the text");
            goto fail;
        }
    }
    qsort(places, count, sizeof *places, compare_places);
    for (Py_ssize_t k = 0; k < count; k++)
        if (k + 1 == count || places[k + 1].detector != places[k].detector || places[k + 1].start != places[k].start)
            spans[places[k].detector]++;
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(everywhere); k++) {
        Py_ssize_t i = PyLong_AsSsize_t(PyTuple_GET_ITEM(everywhere, k));
        if (i < 0 || i >= self->count) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "no such detector");
            goto fail;
        }
        if (spans[i] != WHOLE_TEXT_DONE && every_match(&t, (int)i, 0, t.n) < 0) goto fail;
        spans[i] = WHOLE_TEXT_DONE;
    }
    for (Py_ssize_t k = 0; k < count; k++) {
        const Place *p = &places[k];
        if (k + 1 < count && places[k + 1].detector == p->detector && places[k + 1].start == p->start)
            continue; /* the furthest end from one start is the last */
        if (spans[p->detector] == WHOLE_TEXT_DONE) continue;
        if (spans[p->detector] > MAX_SPANS) {
            spans[p->detector] = WHOLE_TEXT_DONE;
            if (every_match(&t, p->detector, 0, t.n) < 0) goto fail;
            continue;
        }
        if (at_place(&t, p->detector, p->start, p->end) < 0) goto fail;
    }
    PyMem_Free(places);
    PyMem_Free(spans);
    PyMem_Free(patched);
    PyMem_Free(t.chars);
    PyBuffer_Release(&data);
    return t.found;
fail:
    Py_XDECREF(t.found);
    PyMem_Free(places);
    PyMem_Free(spans);
    PyMem_Free(patched);
    PyMem_Free(t.chars);
    PyBuffer_Release(&data);
    return NULL;
}

static PyMethodDef matcher_methods[] = {
    {"find", (PyCFunction)matcher_find, METH_VARARGS,
     "find(text, data, reports, everywhere) -> [(start, end, detector)]: the values the detectors match and "
     "check in `text` (`data`: its UTF-8, 'surrogatepass'), looking at the places Hyperscan reported "
     "((detector, start, end) in bytes) and over the whole text for the detectors in `everywhere`; in "
     "characters, overlaps left to the caller."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject MatcherType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "llmtap.processors.redact._match.Matcher",
    .tp_basicsize = sizeof(Matcher),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Matcher(detectors): detectors as (exact pattern, ignore case, reach back, widen, check name).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)matcher_init,
    .tp_dealloc = (destructor)matcher_dealloc,
    .tp_methods = matcher_methods,
};

static PyObject *pattern_error(PyObject *self, PyObject *args) {
    PyObject *pattern, *error = NULL;
    int ignore_case = 0;
    if (!PyArg_ParseTuple(args, "U|p", &pattern, &ignore_case)) return NULL;
    pcre2_code *code = compile(pattern, ignore_case, &error);
    if (code != NULL) {
        pcre2_code_free(code);
        Py_RETURN_NONE;
    }
    return error;
}

static PyObject *run_check(PyObject *self, PyObject *args) {
    const char *name;
    Py_buffer value;
    if (!PyArg_ParseTuple(args, "ss*", &name, &value)) return NULL;
    Check check = check_named(name);
    int ok = check == NULL ? -2 : check(value.buf, value.len);
    PyBuffer_Release(&value);
    if (ok == -2) return PyErr_Format(PyExc_ValueError, "no check named %s", name);
    return ok < 0 ? NULL : PyBool_FromLong(ok);
}

static PyMethodDef methods[] = {
    {"pattern_error", pattern_error, METH_VARARGS,
     "pattern_error(pattern, ignore_case=False) -> str | None: why PCRE2 cannot compile `pattern`, or None."},
    {"check", run_check, METH_VARARGS, "check(name, value) -> bool: the check `name` on `value` (UTF-8 bytes)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_match", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__match(void) {
    if (PyType_Ready(&MatcherType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "Matcher", (PyObject *)&MatcherType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
