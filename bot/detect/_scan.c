/* The matcher's inner loops in C. scan() is bot/detect/matcher.py's
 * ``scan_python`` (same results, which the tests compare; the Python one puts
 * a two-character test before each check, which C does not need), with each
 * anchor's keys packed into one bytes object.
 *
 * Why C, and why packed: a message meets an Aho-Corasick word every few
 * characters, nearly all of them typo anchors whose keys do not fit the text
 * next to them. Checking that is a few character comparisons, but in Python,
 * or in C over Python tuples, sets and dicts, each check is a chain of pointer
 * dereferences into a heap of hundreds of thousands of objects: cache misses,
 * not arithmetic, made it 2 us per word found. Here the keys of an anchor lie
 * side by side in one buffer, so a check is a few reads of adjacent memory.
 *
 * best_hits(...), the same for matcher.best_hits_python: at 10,000 rules a
 * text hits dozens of (rule, group) pairs, each one a few steps of Python.
 * spans(...), normalize.original_spans_python: mapping evidence back to the
 * original text cost a table lookup and a len() per character of it.
 * fold(...) and top(...), matcher.fold_python and matcher.top_python: the
 * steps that grow with the rules a text hits.
 * The search stays in pyahocorasick, the alignment of the few keys that pass
 * in rapidfuzz (matcher._Layer._fuzzy).
 *
 * scan(matches, norm, found, exact_keys, proposed) -> None
 *   matches:    the automaton's iterator over ``norm``, yielding (end, payload),
 *               payload = (length, items, fid, lefts, rights) with items a
 *               tuple of (entry, similarity) and lefts/rights packed records
 *               (see ``pack`` in matcher.py): int32 fid, int32 m, then the m
 *               code points (uint32) of the key's other half (reversed for a
 *               right half, which is compared with the text read backward);
 *   found:      {entry: (similarity, start, end)}, best occurrence, updated;
 *   exact_keys: set of fuzzy keys found exactly, updated;
 *   proposed:   list of (fid, window start), appended to.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

/* Text read in one direction from a position: forward from norm[at], or
 * backward from norm[at - 1]. */
typedef struct {
    int kind;
    const void *data;
    Py_ssize_t at, size, step;
} Reader;

/* The i-th character read, or -1 past the text's edge. */
static inline int64_t
char_at(const Reader *r, Py_ssize_t i)
{
    Py_ssize_t p = r->step > 0 ? r->at + i : r->at - 1 - i;
    return p >= 0 && p < r->size ? (int64_t)PyUnicode_READ(r->kind, r->data, p) : -1;
}

/* Whether the text read by ``r`` starts with a string exactly one edit
 * (substitution, missing or extra character) from the m characters ``o``
 * (matcher.one_edit; a right half's other half is stored reversed).
 * The edit may be taken at the first difference: any one-edit alignment can
 * be moved there. */
static int
one_edit(const Reader *r, const uint32_t *o, Py_ssize_t m)
{
    Py_ssize_t i = 0;
    while (i < m && char_at(r, i) == o[i]) i++;
    if (i == m) return 0; /* the whole key is there: an exact match, found as such */
    Py_ssize_t k;
    /* substitution at i: o[i+1:] == t[i+1:m] */
    for (k = i + 1; k < m && char_at(r, k) == o[k]; k++) {}
    if (k == m && char_at(r, i) >= 0) return 1;
    /* o[i] missing from the text: o[i+1:] == t[i:m-1] */
    for (k = i + 1; k < m && char_at(r, k - 1) == o[k]; k++) {}
    if (k == m) return 1;
    /* an extra character at i: o[i:] == t[i+1:m+1] */
    for (k = i; k < m && char_at(r, k + 1) == o[k]; k++) {}
    return k == m && char_at(r, i) >= 0;
}

/* For each packed record whose other half is one edit from the text read by
 * ``r``, append (fid, where the key would start) to ``proposed``: ``base``,
 * less the other half's length when reading backward (a right half). */
static int
check_records(PyObject *packed, const Reader *r, Py_ssize_t base, PyObject *proposed)
{
    const char *p = PyBytes_AS_STRING(packed), *stop = p + PyBytes_GET_SIZE(packed);
    while (p < stop) {
        int32_t head[2];
        if (stop - p < (Py_ssize_t)sizeof head) goto malformed;
        memcpy(head, p, sizeof head);
        p += sizeof head;
        Py_ssize_t m = head[1];
        if (m <= 0 || (stop - p) / (Py_ssize_t)sizeof(uint32_t) < m) goto malformed;
        /* Aligned: a bytes object's data starts on an 8-byte boundary and
         * every record is 8 + 4m bytes long. */
        const uint32_t *o = (const uint32_t *)p;
        p += m * sizeof(uint32_t);
        if (one_edit(r, o, m)) {
            PyObject *pair = Py_BuildValue("(in)", head[0], r->step > 0 ? base : base - m);
            if (pair == NULL) return -1;
            int rc = PyList_Append(proposed, pair);
            Py_DECREF(pair);
            if (rc < 0) return -1;
        }
    }
    return 0;
malformed:
    PyErr_SetString(PyExc_ValueError, "scan: malformed anchor records");
    return -1;
}

/* Whether the occurrence (sim, start, end) should replace found[eid]: there is
 * none yet, or it ranks lower (more similar, then earlier, then longer wins:
 * matcher._rank). -1 on error. */
static int
beats_found(PyObject *found, PyObject *eid, long long sim, long long start, long long end)
{
    PyObject *prev = PyDict_GetItemWithError(found, eid); /* borrowed */
    if (prev == NULL) return PyErr_Occurred() ? -1 : 1;
    if (!PyTuple_CheckExact(prev) || PyTuple_GET_SIZE(prev) != 3) {
        PyErr_SetString(PyExc_TypeError, "found values must be (similarity, start, end)");
        return -1;
    }
    long long psim = PyLong_AsLongLong(PyTuple_GET_ITEM(prev, 0));
    long long pstart = PyLong_AsLongLong(PyTuple_GET_ITEM(prev, 1));
    long long pend = PyLong_AsLongLong(PyTuple_GET_ITEM(prev, 2));
    if (PyErr_Occurred()) return -1;
    return sim != psim ? sim > psim : start != pstart ? start < pstart : end - start > pend - pstart;
}

/* found[eid] = (sim, start, end) unless found[eid] ranks at least as high. */
static int
keep_best(PyObject *found, PyObject *eid, long sim, Py_ssize_t start, Py_ssize_t end)
{
    int better = beats_found(found, eid, sim, start, end);
    if (better <= 0) return better;
    PyObject *hit = Py_BuildValue("(lnn)", sim, start, end);
    if (hit == NULL) return -1;
    int rc = PyDict_SetItem(found, eid, hit);
    Py_DECREF(hit);
    return rc;
}

static int
is_tuple(PyObject *o, Py_ssize_t size)
{
    if (PyTuple_CheckExact(o) && (size < 0 || PyTuple_GET_SIZE(o) == size)) return 1;
    PyErr_SetString(PyExc_TypeError, "scan: malformed automaton payload");
    return 0;
}

/* One word found: (end, (length, items, fid, lefts, rights)). */
static int
one_match(PyObject *match, PyObject *norm, PyObject *found, PyObject *exact_keys, PyObject *proposed)
{
    PyObject *payload;
    if (!is_tuple(match, 2) || !is_tuple(payload = PyTuple_GET_ITEM(match, 1), 5)) return -1;
    Py_ssize_t end = PyLong_AsSsize_t(PyTuple_GET_ITEM(match, 0));
    Py_ssize_t length = PyLong_AsSsize_t(PyTuple_GET_ITEM(payload, 0));
    long fid = PyLong_AsLong(PyTuple_GET_ITEM(payload, 2));
    if (PyErr_Occurred()) return -1;
    Py_ssize_t start = end - length + 1;
    PyObject *items = PyTuple_GET_ITEM(payload, 1);
    if (!is_tuple(items, -1)) return -1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(items); i++) {
        PyObject *item = PyTuple_GET_ITEM(items, i);
        if (!is_tuple(item, 2)) return -1;
        long sim = PyLong_AsLong(PyTuple_GET_ITEM(item, 1));
        if (sim == -1 && PyErr_Occurred()) return -1;
        if (keep_best(found, PyTuple_GET_ITEM(item, 0), sim, start, end + 1) < 0) return -1;
    }
    if (fid >= 0 && PySet_Add(exact_keys, PyTuple_GET_ITEM(payload, 2)) < 0) return -1;
    PyObject *lefts = PyTuple_GET_ITEM(payload, 3), *rights = PyTuple_GET_ITEM(payload, 4);
    if (!PyBytes_CheckExact(lefts) || !PyBytes_CheckExact(rights)) {
        PyErr_SetString(PyExc_TypeError, "scan: anchor records must be bytes");
        return -1;
    }
    Reader r = {PyUnicode_KIND(norm), PyUnicode_DATA(norm), 0, PyUnicode_GET_LENGTH(norm), 1};
    /* A left half: the key starts here, its right half follows the anchor. */
    if (PyBytes_GET_SIZE(lefts)) {
        r.at = end + 1;
        r.step = 1;
        if (check_records(lefts, &r, start, proposed) < 0) return -1;
    }
    /* A right half: the key's left half is read backward from the anchor. */
    if (PyBytes_GET_SIZE(rights)) {
        r.at = start;
        r.step = -1;
        if (check_records(rights, &r, start, proposed) < 0) return -1;
    }
    return 0;
}

static PyObject *
scan(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "scan(matches, norm, found, exact_keys, proposed)");
        return NULL;
    }
    PyObject *norm = args[1], *found = args[2], *exact_keys = args[3], *proposed = args[4];
    if (!PyUnicode_Check(norm) || !PyDict_Check(found) || !PySet_Check(exact_keys) || !PyList_Check(proposed)) {
        PyErr_SetString(PyExc_TypeError, "scan: expected (iterator, str, dict, set, list)");
        return NULL;
    }
    PyObject *it = PyObject_GetIter(args[0]);
    if (it == NULL) return NULL;
    PyObject *match;
    while ((match = PyIter_Next(it)) != NULL) {
        int rc = one_match(match, norm, found, exact_keys, proposed);
        Py_DECREF(match);
        if (rc < 0) {
            Py_DECREF(it);
            return NULL;
        }
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) return NULL;
    Py_RETURN_NONE;
}

/* An int32 or byte array argument, read through the buffer protocol. */
static int
get_array(PyObject *obj, Py_buffer *view, Py_ssize_t itemsize)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE | PyBUF_FORMAT) < 0) return -1;
    if (view->itemsize != itemsize) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_TypeError, "best_hits: wrong array item size");
        return -1;
    }
    return 0;
}

/* Whether rank a = (sim, -start, length, -entry) is greater than the tuple b. */
static int
ranks_above(const long long a[4], PyObject *b)
{
    if (!PyTuple_CheckExact(b) || PyTuple_GET_SIZE(b) != 4) {
        PyErr_SetString(PyExc_TypeError, "best_hits: ranks must be 4-tuples");
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        long long v = PyLong_AsLongLong(PyTuple_GET_ITEM(b, i));
        if (v == -1 && PyErr_Occurred()) return -1;
        if (a[i] != v) return a[i] > v;
    }
    return 0;
}

/* best_hits(found, group_of, weight_of, first_group, first_entry, rule_of,
 *           required, best, raw, met): matcher.best_hits_python, in C. */
static PyObject *
best_hits(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 10) {
        PyErr_SetString(PyExc_TypeError, "best_hits takes 10 arguments");
        return NULL;
    }
    PyObject *found = args[0], *best = args[7], *raw = args[8], *met = args[9];
    Py_ssize_t first_group = PyLong_AsSsize_t(args[3]), first_entry = PyLong_AsSsize_t(args[4]);
    if (PyErr_Occurred()) return NULL;
    if (!PyDict_Check(found) || !PyDict_Check(best) || (raw != Py_None && !PyDict_Check(raw))
        || (met != Py_None && !PySet_Check(met))) {
        PyErr_SetString(PyExc_TypeError, "best_hits: expected dicts and a set");
        return NULL;
    }
    Py_buffer gv, wv, rv, qv;
    PyObject *result = NULL, *eid_obj, *hit;
    if (get_array(args[1], &gv, 4) < 0) return NULL;
    if (get_array(args[2], &wv, 4) < 0) goto fail_g;
    if (get_array(args[5], &rv, 4) < 0) goto fail_w;
    if (get_array(args[6], &qv, 1) < 0) goto fail_r;
    const int32_t *group_of = gv.buf, *weight_of = wv.buf, *rule_of = rv.buf;
    const unsigned char *required = qv.buf;
    Py_ssize_t n_entries = gv.len / 4, n_groups = wv.len / 4, n_gids = rv.len / 4;
    Py_ssize_t pos = 0;
    while (PyDict_Next(found, &pos, &eid_obj, &hit)) {
        Py_ssize_t eid = PyLong_AsSsize_t(eid_obj);
        if (eid == -1 && PyErr_Occurred()) goto done;
        if (!PyTuple_CheckExact(hit) || PyTuple_GET_SIZE(hit) != 3) {
            PyErr_SetString(PyExc_TypeError, "best_hits: found values must be (similarity, start, end)");
            goto done;
        }
        long long sim = PyLong_AsLongLong(PyTuple_GET_ITEM(hit, 0));
        long long start = PyLong_AsLongLong(PyTuple_GET_ITEM(hit, 1));
        long long end = PyLong_AsLongLong(PyTuple_GET_ITEM(hit, 2));
        if (PyErr_Occurred()) goto done;
        if (eid < 0 || eid >= n_entries || group_of[eid] < 0 || group_of[eid] >= n_groups
            || first_group + group_of[eid] >= n_gids) {
            PyErr_SetString(PyExc_IndexError, "best_hits: entry or group out of range");
            goto done;
        }
        int32_t lg = group_of[eid];
        Py_ssize_t gid = first_group + lg;
        int32_t r = rule_of[gid];
        if (r < 0) continue;
        long long rank[4] = {sim, -start, end - start, -(long long)(first_entry + eid)};
        PyObject *key = PyLong_FromSsize_t(gid);
        if (key == NULL) goto done;
        PyObject *prev = PyDict_GetItemWithError(best, key); /* borrowed */
        long long prev_sim = 0;
        int better = 1;
        if (prev != NULL) {
            better = ranks_above(rank, prev);
            if (better > 0) prev_sim = PyLong_AsLongLong(PyTuple_GET_ITEM(prev, 0));
        }
        else if (PyErr_Occurred()) {
            better = -1;
        }
        if (better > 0) {
            PyObject *value = Py_BuildValue("(LLLL)", rank[0], rank[1], rank[2], rank[3]);
            better = value == NULL ? -1 : PyDict_SetItem(best, key, value) < 0 ? -1 : 1;
            Py_XDECREF(value);
        }
        Py_DECREF(key);
        if (better < 0 || PyErr_Occurred()) goto done;
        if (better == 0 || raw == Py_None) continue;
        PyObject *rule = PyLong_FromLong(r);
        if (rule == NULL) goto done;
        PyObject *total = PyDict_GetItemWithError(raw, rule); /* borrowed */
        long long sum = total == NULL ? 0 : PyLong_AsLongLong(total);
        PyObject *updated = PyErr_Occurred() ? NULL : PyLong_FromLongLong(sum + weight_of[lg] * (sim - prev_sim));
        int rc = updated == NULL ? -1 : PyDict_SetItem(raw, rule, updated);
        Py_XDECREF(updated);
        if (rc == 0 && required[gid]) rc = PySet_Add(met, rule);
        Py_DECREF(rule);
        if (rc < 0) goto done;
    }
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&qv);
fail_r:
    PyBuffer_Release(&rv);
fail_w:
    PyBuffer_Release(&wv);
fail_g:
    PyBuffer_Release(&gv);
    return result;
}

/* The length of character c's normalised form: lengths[c] for c < 0x10000
 * when known (255: not yet), else len(table[c]), remembered. -1 on error. */
static Py_ssize_t
piece_length(Py_UCS4 c, PyObject *table, unsigned char *lengths)
{
    if (c < 0x10000 && lengths[c] != 255) return lengths[c];
    PyObject *code = PyLong_FromUnsignedLong(c);
    if (code == NULL) return -1;
    PyObject *piece = PyObject_GetItem(table, code);
    Py_DECREF(code);
    if (piece == NULL) return -1;
    Py_ssize_t n = PyUnicode_Check(piece) ? PyUnicode_GET_LENGTH(piece) : -1;
    Py_DECREF(piece);
    if (n < 0) {
        PyErr_SetString(PyExc_TypeError, "spans: the table must map characters to str");
        return -1;
    }
    if (c < 0x10000 && n < 255) lengths[c] = (unsigned char)n;
    return n;
}

/* spans(text, table, lengths, spans): normalize.original_spans_python, in C.
 * One pass over the text up to the last span, with each character's
 * normalised length read from ``lengths`` (a bytearray of 0x10000, 255 for
 * not known yet, filled from ``table`` as characters are met) instead of a
 * table lookup and a len() per character. */
static PyObject *
spans(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyUnicode_Check(args[0]) || !PyByteArray_Check(args[2]) || !PyList_Check(args[3])
        || PyByteArray_GET_SIZE(args[2]) != 0x10000) {
        PyErr_SetString(PyExc_TypeError, "spans(text: str, table, lengths: bytearray(0x10000), spans: list)");
        return NULL;
    }
    PyObject *text = args[0], *table = args[1], *list = args[3];
    unsigned char *lengths = (unsigned char *)PyByteArray_AS_STRING(args[2]);
    Py_ssize_t count = 2 * PyList_GET_SIZE(list), size = PyUnicode_GET_LENGTH(text);
    /* query q: the normalised position (span start, or span end - 1); the
     * answer: the original character that produced it */
    Py_ssize_t *want = PyMem_New(Py_ssize_t, count ? 3 * count : 1);
    if (want == NULL) return PyErr_NoMemory();
    Py_ssize_t *order = want + count, *got = want + 2 * count;
    PyObject *result = NULL;
    for (Py_ssize_t k = 0; k < count / 2; k++) {
        PyObject *span = PyList_GET_ITEM(list, k);
        if (!PyTuple_Check(span) || PyTuple_GET_SIZE(span) != 2) {
            PyErr_SetString(PyExc_TypeError, "spans: each span must be (start, end)");
            goto done;
        }
        want[2 * k] = PyLong_AsSsize_t(PyTuple_GET_ITEM(span, 0));
        want[2 * k + 1] = PyLong_AsSsize_t(PyTuple_GET_ITEM(span, 1)) - 1;
        if (PyErr_Occurred()) goto done;
    }
    for (Py_ssize_t k = 0; k < count; k++) { /* insertion sort: a handful of spans */
        Py_ssize_t j = k;
        for (; j > 0 && want[order[j - 1]] > want[k]; j--) order[j] = order[j - 1];
        order[j] = k;
    }
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t total = 0, next = 0;
    for (Py_ssize_t i = 0; i < size && next < count; i++) {
        Py_ssize_t n = piece_length(PyUnicode_READ(kind, data, i), table, lengths);
        if (n < 0) goto done;
        total += n;
        while (next < count && want[order[next]] < total) got[order[next++]] = i;
    }
    if (next < count) {
        PyErr_SetString(PyExc_ValueError, "spans: a span lies beyond the normalised text");
        goto done;
    }
    result = PyList_New(count / 2);
    if (result == NULL) goto done;
    for (Py_ssize_t k = 0; k < count / 2; k++) {
        PyObject *pair = Py_BuildValue("(nn)", got[2 * k], got[2 * k + 1] + 1);
        if (pair == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, k, pair);
    }
done:
    PyMem_Free(want);
    return result;
}

/* fold(found, entries, hit): matcher.fold_python, in C: give every entry of a
 * key aligned with a typo the hit (similarity, start, end), unless it has a
 * better one. At 10,000 rules a key is often a phrase of dozens of rules. */
static PyObject *
fold(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyDict_Check(args[0]) || !PyTuple_CheckExact(args[2]) || PyTuple_GET_SIZE(args[2]) != 3) {
        PyErr_SetString(PyExc_TypeError, "fold(found: dict, entries, hit: (similarity, start, end))");
        return NULL;
    }
    PyObject *found = args[0], *hit = args[2];
    long long sim = PyLong_AsLongLong(PyTuple_GET_ITEM(hit, 0));
    long long start = PyLong_AsLongLong(PyTuple_GET_ITEM(hit, 1));
    long long end = PyLong_AsLongLong(PyTuple_GET_ITEM(hit, 2));
    if (PyErr_Occurred()) return NULL;
    PyObject *entries = PySequence_Fast(args[1], "fold: entries must be a sequence");
    if (entries == NULL) return NULL;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(entries); i++) {
        PyObject *eid = PySequence_Fast_GET_ITEM(entries, i);
        int better = beats_found(found, eid, sim, start, end);
        if (better > 0) better = PyDict_SetItem(found, eid, hit) < 0 ? -1 : 1; /* one tuple for all */
        if (better < 0) {
            Py_DECREF(entries);
            return NULL;
        }
    }
    Py_DECREF(entries);
    Py_RETURN_NONE;
}

/* top(raw, met, free, kind): matcher.top_python, in C: the best (score, rule)
 * of each kind from the rules' sums, or None. At 10,000 rules a text hits
 * hundreds of rules; each is a score to clamp and compare. */
static PyObject *
top(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyDict_Check(args[0]) || !PyAnySet_Check(args[1]) || !PyTuple_CheckExact(args[2])
        || !PyTuple_CheckExact(args[3])) {
        PyErr_SetString(PyExc_TypeError, "top(raw: dict, met: set, free: tuple, kind: tuple)");
        return NULL;
    }
    PyObject *raw = args[0], *met = args[1], *free_ = args[2], *kind = args[3];
    long best_score[2] = {0, 0};
    Py_ssize_t best_rule[2] = {-1, -1};
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(raw, &pos, &key, &value)) {
        Py_ssize_t r = PyLong_AsSsize_t(key);
        long long total = PyLong_AsLongLong(value);
        if (PyErr_Occurred()) return NULL;
        if (r < 0 || r >= PyTuple_GET_SIZE(free_) || r >= PyTuple_GET_SIZE(kind)) {
            PyErr_SetString(PyExc_IndexError, "top: rule out of range");
            return NULL;
        }
        int counts = PyObject_IsTrue(PyTuple_GET_ITEM(free_, r));
        if (counts == 0) counts = PySet_Contains(met, key);
        int k = PyObject_IsTrue(PyTuple_GET_ITEM(kind, r));
        if (counts < 0 || k < 0) return NULL;
        long score = 0;
        if (counts) { /* Python's max(0, min(100, round(total / 100))): half to even */
            double rounded = nearbyint((double)total / 100.0);
            score = rounded < 0 ? 0 : rounded > 100 ? 100 : (long)rounded;
        }
        if (best_rule[k] < 0 || score > best_score[k] || (score == best_score[k] && r < best_rule[k])) {
            best_score[k] = score;
            best_rule[k] = r;
        }
    }
    PyObject *out[2];
    for (int k = 0; k < 2; k++) {
        out[k] = best_rule[k] < 0 ? Py_NewRef(Py_None) : Py_BuildValue("(ln)", best_score[k], best_rule[k]);
        if (out[k] == NULL) {
            if (k) Py_DECREF(out[0]);
            return NULL;
        }
    }
    return Py_BuildValue("(NN)", out[1], out[0]); /* (scam: kind true, other: kind false) */
}

static PyMethodDef methods[] = {
    {"scan", (PyCFunction)(void (*)(void))scan, METH_FASTCALL,
     "scan(matches, norm, found, exact_keys, proposed): the matcher's scan loop (matcher.scan_python)."},
    {"spans", (PyCFunction)(void (*)(void))spans, METH_FASTCALL,
     "spans(text, table, lengths, spans): normalize.original_spans_python."},
    {"fold", (PyCFunction)(void (*)(void))fold, METH_FASTCALL, "fold(found, entries, hit): matcher.fold_python."},
    {"top", (PyCFunction)(void (*)(void))top, METH_FASTCALL, "top(raw, met, free, kind): matcher.top_python."},
    {"best_hits", (PyCFunction)(void (*)(void))best_hits, METH_FASTCALL,
     "best_hits(found, group_of, weight_of, first_group, first_entry, rule_of, required, best, raw, met):"
     " matcher.best_hits_python."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "callguard.detect._scan", NULL, 0, methods};

PyMODINIT_FUNC
PyInit__scan(void)
{
    return PyModule_Create(&module);
}
