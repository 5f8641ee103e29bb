/* The detection core's inner loops in C: the twins of bot/detect/pykernels.py.
 *
 * Each function takes the same arguments and gives the same result as its
 * Python twin (tests/test_kernels.py compares them with hypothesis); read the
 * Python for what they mean. bot/detect/kernels.py picks C or Python once.
 *
 * Why C: a check runs these once per character, per key the automaton finds
 * or per chained occurrence, and in Python each step is a chain of bytecodes
 * and object allocations; that was most of the time of a check (bench/README.md,
 * "Matcher"). Here they are plain loops over the strings' code points.
 *
 * Inputs are checked: anything malformed raises TypeError or ValueError,
 * never crashes. Strings are read with PyUnicode_READ (any internal kind).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* A character of a spaced script (normalize.SPACED: 0-9, a-z, U+00C0..U+024F). */
static inline int
is_spaced(Py_UCS4 c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 0xC0 && c <= 0x24F);
}

/* ------------------------------------------------------------------ squeeze */

/* A run of spaces is kept, as one space, only between two spaced characters;
 * a space goes in where a spaced character meets any other (non-space) one. */
static PyObject *
squeeze(PyObject *self, PyObject *arg)
{
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "squeeze: text must be str");
        return NULL;
    }
    if (PyUnicode_READY(arg) < 0) return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg);
    int kind = PyUnicode_KIND(arg);
    const void *data = PyUnicode_DATA(arg);
    if (n > PY_SSIZE_T_MAX / 2 / (Py_ssize_t)sizeof(Py_UCS4) - 1) return PyErr_NoMemory();
    Py_UCS4 *out = PyMem_Malloc((2 * n + 1) * sizeof(Py_UCS4));
    if (out == NULL) return PyErr_NoMemory();
    Py_ssize_t k = 0;
    int last = 0; /* the last character written: 0 none, 1 a space, 2 spaced, 3 other */
    for (Py_ssize_t i = 0; i < n;) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c == ' ') {
            Py_ssize_t j = i;
            while (j < n && PyUnicode_READ(kind, data, j) == ' ') j++;
            if (i > 0 && is_spaced(PyUnicode_READ(kind, data, i - 1)) && j < n
                && is_spaced(PyUnicode_READ(kind, data, j))) {
                out[k++] = ' ';
                last = 1;
            }
            i = j;
            continue;
        }
        int now = is_spaced(c) ? 2 : 3;
        if ((last == 2 || last == 3) && last != now) out[k++] = ' ';
        out[k++] = c;
        last = now;
        i++;
    }
    PyObject *result = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, out, k);
    PyMem_Free(out);
    return result;
}

/* ------------------------------------------------------------ squeeze_words */

/* A growing output: characters and, for each, its offset (a borrowed int
 * from the input list, referenced when the result list is made). */
typedef struct {
    Py_UCS4 *chars;
    PyObject **offsets;
    Py_ssize_t size, room;
} Out;

static int
put(Out *o, Py_UCS4 c, PyObject *offset)
{
    if (o->size == o->room) {
        Py_ssize_t room = o->room * 2 + 16;
        Py_UCS4 *chars = PyMem_Realloc(o->chars, room * sizeof(Py_UCS4));
        if (chars == NULL) return -1;
        o->chars = chars;
        PyObject **offsets = PyMem_Realloc(o->offsets, room * sizeof(PyObject *));
        if (offsets == NULL) return -1;
        o->offsets = offsets;
        o->room = room;
    }
    o->chars[o->size] = c;
    o->offsets[o->size++] = offset;
    return 0;
}

/* The run kinds of pykernels._PIECES. */
static inline int
run_kind(Py_UCS4 c)
{
    return c == ' ' ? 1 : is_spaced(c) ? 2 : 3;
}

static PyObject *
squeeze_words(PyObject *self, PyObject *args)
{
    PyObject *folded, *offsets, *forms;
    if (!PyArg_ParseTuple(args, "UO!O:squeeze_words", &folded, &PyList_Type, &offsets, &forms)) return NULL;
    if (PyUnicode_READY(folded) < 0) return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(folded);
    if (PyList_GET_SIZE(offsets) != n) {
        PyErr_SetString(PyExc_ValueError, "squeeze_words: one offset per character");
        return NULL;
    }
    int kind = PyUnicode_KIND(folded);
    const void *data = PyUnicode_DATA(folded);
    /* A snapshot of the offsets: looking up a form runs Python code, which
     * must not be able to change them under our feet. */
    PyObject *snapshot = PyList_AsTuple(offsets);
    if (snapshot == NULL) return NULL;
    PyObject **off = ((PyTupleObject *)snapshot)->ob_item;
    Out o = {NULL, NULL, 0, 0};
    PyObject *result = NULL;
    static Py_UCS4 nothing[1] = {0};
    int last = 0;            /* the kind of the last run kept: 0 none, 2 a word, 3 anything else */
    Py_ssize_t last_end = 0; /* where that run ended */
    for (Py_ssize_t pos = 0; pos < n;) {
        int now = run_kind(PyUnicode_READ(kind, data, pos));
        Py_ssize_t end = pos + 1;
        while (end < n && run_kind(PyUnicode_READ(kind, data, end)) == now) end++;
        if (now == 1) {
            if (last == 2 && last_end == pos && end < n && run_kind(PyUnicode_READ(kind, data, end)) == 2
                && put(&o, ' ', off[pos]) < 0)
                goto nomemory;
        } else if (now == 2) {
            if (last == 3 && put(&o, ' ', off[last_end - 1]) < 0) goto nomemory;
            PyObject *word = PyUnicode_Substring(folded, pos, end);
            if (word == NULL) goto done;
            PyObject *form = PyObject_GetItem(forms, word);
            Py_DECREF(word);
            if (form == NULL) goto done;
            if (!PyUnicode_Check(form) || PyUnicode_READY(form) < 0) {
                if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "squeeze_words: a word's form must be str");
                Py_DECREF(form);
                goto done;
            }
            int fkind = PyUnicode_KIND(form);
            const void *fdata = PyUnicode_DATA(form);
            Py_ssize_t flen = PyUnicode_GET_LENGTH(form), size = end - pos;
            for (Py_ssize_t j = 0; j < flen; j++) {
                if (put(&o, PyUnicode_READ(fkind, fdata, j), off[pos + (j < size ? j : size - 1)]) < 0) {
                    Py_DECREF(form);
                    goto nomemory;
                }
            }
            Py_DECREF(form);
            last = 2;
            last_end = end;
        } else {
            if (last == 2 && put(&o, ' ', off[last_end - 1]) < 0) goto nomemory;
            for (Py_ssize_t j = pos; j < end; j++)
                if (put(&o, PyUnicode_READ(kind, data, j), off[j]) < 0) goto nomemory;
            last = 3;
            last_end = end;
        }
        pos = end;
    }
    PyObject *text = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, o.chars ? o.chars : nothing, o.size);
    if (text == NULL) goto done;
    PyObject *list = PyList_New(o.size);
    if (list == NULL) {
        Py_DECREF(text);
        goto done;
    }
    for (Py_ssize_t j = 0; j < o.size; j++) PyList_SET_ITEM(list, j, Py_NewRef(o.offsets[j]));
    result = PyTuple_Pack(2, text, list);
    Py_DECREF(text);
    Py_DECREF(list);
    goto done;
nomemory:
    PyErr_NoMemory();
done:
    PyMem_Free(o.chars);
    PyMem_Free(o.offsets);
    Py_DECREF(snapshot);
    return result;
}

/* ----------------------------------------------------------------- one_edit */

/* Text read in one direction: forward from data[at] up to (not including)
 * data[limit], or backward from data[at - 1] down to data[limit]. */
typedef struct {
    int kind;
    const void *data;
    Py_ssize_t at, limit;
    int forward;
} Reader;

/* The i-th character read, or -1 past the edge. */
static inline int64_t
char_at(const Reader *r, Py_ssize_t i)
{
    if (r->forward) {
        Py_ssize_t p = r->at + i;
        return p < r->limit ? (int64_t)PyUnicode_READ(r->kind, r->data, p) : -1;
    }
    Py_ssize_t p = r->at - 1 - i;
    return p >= r->limit ? (int64_t)PyUnicode_READ(r->kind, r->data, p) : -1;
}

/* pykernels.one_edit, with ``text`` read by ``r`` and ``other`` the m
 * characters of a str of kind ``okind``. */
static int
edit_away(const Reader *r, int okind, const void *odata, Py_ssize_t m)
{
#define O(k) ((int64_t)PyUnicode_READ(okind, odata, (k)))
    Py_ssize_t i = 0;
    while (i < m && char_at(r, i) == O(i)) i++;
    if (i == m) return 0; /* ``other`` itself: an exact match, found as such */
    Py_ssize_t k;
    for (k = i + 1; k < m && char_at(r, k) == O(k); k++) {} /* a wrong character at i */
    if (k == m && char_at(r, i) >= 0) return 1;
    for (k = i + 1; k < m && char_at(r, k - 1) == O(k); k++) {} /* other[i] missing */
    if (k == m) return 1;
    for (k = i; k < m && char_at(r, k + 1) == O(k); k++) {} /* an extra character at i */
    return k == m && char_at(r, i) >= 0;
#undef O
}

static int
ready_str(PyObject *o, const char *what)
{
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be str", what);
        return -1;
    }
    return PyUnicode_READY(o);
}

static PyObject *
one_edit(PyObject *self, PyObject *args)
{
    PyObject *other, *text;
    if (!PyArg_ParseTuple(args, "UU:one_edit", &other, &text)) return NULL;
    if (PyUnicode_READY(other) < 0 || PyUnicode_READY(text) < 0) return NULL;
    Reader r = {PyUnicode_KIND(text), PyUnicode_DATA(text), 0, PyUnicode_GET_LENGTH(text), 1};
    return PyBool_FromLong(edit_away(&r, PyUnicode_KIND(other), PyUnicode_DATA(other),
                                     PyUnicode_GET_LENGTH(other)));
}

/* ----------------------------------------------------------------- gap_cost */

/* pykernels.gap_cost over data[lo:hi]. */
static long
cost_of(int kind, const void *data, Py_ssize_t lo, Py_ssize_t hi)
{
    long cost = 0;
    int in_word = 0;
    for (Py_ssize_t i = lo; i < hi; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (is_spaced(c)) {
            if (!in_word) {
                cost += 2;
                in_word = 1;
            }
        } else {
            in_word = 0;
            if (c != ' ') cost += 1;
        }
    }
    return cost;
}

static PyObject *
gap_cost(PyObject *self, PyObject *arg)
{
    if (ready_str(arg, "gap_cost: region") < 0) return NULL;
    return PyLong_FromLong(cost_of(PyUnicode_KIND(arg), PyUnicode_DATA(arg), 0, PyUnicode_GET_LENGTH(arg)));
}

/* -------------------------------------------------------------------- chain */

/* One way to have found the elements so far, ending at ``end``. */
typedef struct {
    long sim, start, end;
    Py_ssize_t parent; /* its state in the previous element's states, -1 for the first */
    PyObject *occ;     /* the (start, end, similarity) tuple of this element (borrowed) */
} State;

/* Read (start, end, similarity) from an occurrence: a span of the text. */
static int
occurrence(PyObject *o, Py_ssize_t n, long *s, long *e, long *sim)
{
    if (!PyTuple_Check(o) || PyTuple_GET_SIZE(o) != 3) {
        PyErr_SetString(PyExc_TypeError, "chain: an occurrence must be a (start, end, similarity) tuple");
        return -1;
    }
    *s = PyLong_AsLong(PyTuple_GET_ITEM(o, 0));
    *e = PyLong_AsLong(PyTuple_GET_ITEM(o, 1));
    *sim = PyLong_AsLong(PyTuple_GET_ITEM(o, 2));
    if (PyErr_Occurred()) return -1;
    if (*s < 0 || *s > *e || *e > n) {
        PyErr_SetString(PyExc_ValueError, "chain: an occurrence outside the text");
        return -1;
    }
    return 0;
}

/* The index of the state ending at ``end`` among states[0:count], or -1. */
static Py_ssize_t
state_at(const State *states, Py_ssize_t count, long end)
{
    for (Py_ssize_t i = 0; i < count; i++)
        if (states[i].end == end) return i;
    return -1;
}

static PyObject *
chain(PyObject *self, PyObject *args)
{
    PyObject *norm, *lists, *gaps;
    long bound;
    if (!PyArg_ParseTuple(args, "UOOl:chain", &norm, &lists, &gaps, &bound)) return NULL;
    if (PyUnicode_READY(norm) < 0) return NULL;
    if (!PyList_Check(lists) || PyList_GET_SIZE(lists) < 1 || !PyTuple_Check(gaps)) {
        PyErr_SetString(PyExc_TypeError, "chain: lists must be a non-empty list, gaps a tuple");
        return NULL;
    }
    Py_ssize_t elements = PyList_GET_SIZE(lists);
    if (PyTuple_GET_SIZE(gaps) < elements - 1) elements = PyTuple_GET_SIZE(gaps) + 1; /* as zip() stops */
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < elements; i++) {
        PyObject *found = PyList_GET_ITEM(lists, i);
        if (!PyList_Check(found)) {
            PyErr_SetString(PyExc_TypeError, "chain: each element's occurrences must be a list");
            return NULL;
        }
        total += PyList_GET_SIZE(found);
    }
    int kind = PyUnicode_KIND(norm);
    const void *data = PyUnicode_DATA(norm);
    Py_ssize_t n = PyUnicode_GET_LENGTH(norm);
    /* Every element's states, one after the other; layer i is states[first[i]:first[i] + count[i]]. */
    State *states = PyMem_Calloc(total > 0 ? total : 1, sizeof(State));
    Py_ssize_t *first = PyMem_Calloc(elements, sizeof(Py_ssize_t));
    Py_ssize_t *count = PyMem_Calloc(elements, sizeof(Py_ssize_t));
    PyObject *result = NULL;
    if (states == NULL || first == NULL || count == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    PyObject *found = PyList_GET_ITEM(lists, 0);
    for (Py_ssize_t j = 0; j < PyList_GET_SIZE(found); j++) {
        PyObject *o = PyList_GET_ITEM(found, j);
        long s, e, sim;
        if (occurrence(o, n, &s, &e, &sim) < 0) goto done;
        Py_ssize_t at = state_at(states, count[0], e);
        if (at < 0) {
            states[count[0]++] = (State){sim, s, e, -1, o};
        } else if (sim > states[at].sim || (sim == states[at].sim && s < states[at].start)) {
            states[at] = (State){sim, s, e, -1, o};
        }
    }
    for (Py_ssize_t i = 1; i < elements; i++) {
        const State *prev = states + first[i - 1];
        Py_ssize_t prev_count = count[i - 1];
        first[i] = first[i - 1] + prev_count;
        State *next = states + first[i];
        int gap = PyObject_IsTrue(PyTuple_GET_ITEM(gaps, i - 1));
        if (gap < 0) goto done;
        found = PyList_GET_ITEM(lists, i);
        for (Py_ssize_t j = 0; j < PyList_GET_SIZE(found); j++) {
            PyObject *o = PyList_GET_ITEM(found, j);
            long s, e, sim;
            if (occurrence(o, n, &s, &e, &sim) < 0) goto done;
            Py_ssize_t chosen = -1;
            long csim = 0, cstart = 0;
            for (Py_ssize_t p = 0; p < prev_count; p++) {
                long pe = prev[p].end;
                if (pe > s) continue;
                if (gap) {
                    if (s - pe > bound * 8) continue;
                    if (s > pe && cost_of(kind, data, pe, s) > bound) continue;
                } else if (!(s == pe || (s == pe + 1 && PyUnicode_READ(kind, data, pe) == ' '))) {
                    continue;
                }
                long cand = prev[p].sim < sim ? prev[p].sim : sim;
                if (chosen < 0 || cand > csim || (cand == csim && prev[p].start < cstart)) {
                    chosen = p;
                    csim = cand;
                    cstart = prev[p].start;
                }
            }
            if (chosen < 0) continue;
            Py_ssize_t at = state_at(next, count[i], e);
            if (at < 0) {
                next[count[i]++] = (State){csim, cstart, e, chosen, o};
            } else if (csim > next[at].sim || (csim == next[at].sim && cstart < next[at].start)) {
                next[at] = (State){csim, cstart, e, chosen, o};
            }
        }
        if (count[i] == 0) {
            result = Py_NewRef(Py_None);
            goto done;
        }
    }
    if (count[elements - 1] == 0) { /* one element, no occurrence: max() of nothing */
        PyErr_SetString(PyExc_ValueError, "chain: no occurrence of the only element");
        goto done;
    }
    /* The best final state: most similar, earliest, longest; the first on a tie. */
    const State *last = states + first[elements - 1];
    Py_ssize_t best = 0;
    for (Py_ssize_t p = 1; p < count[elements - 1]; p++) {
        const State *a = last + p, *b = last + best;
        if (a->sim > b->sim || (a->sim == b->sim && (a->start < b->start
            || (a->start == b->start && a->end - a->start > b->end - b->start))))
            best = p;
    }
    PyObject *spans = PyList_New(elements);
    if (spans == NULL) goto done;
    Py_ssize_t at = best;
    for (Py_ssize_t i = elements - 1; i >= 0; i--) {
        const State *st = states + first[i] + at;
        PyList_SET_ITEM(spans, i, Py_NewRef(st->occ));
        at = st->parent;
    }
    result = Py_BuildValue("(lN)", last[best].sim, spans);
done:
    PyMem_Free(states);
    PyMem_Free(first);
    PyMem_Free(count);
    return result;
}

/* ------------------------------------------------------------- scan_matches */

static int
is_tuple(PyObject *o, Py_ssize_t size, const char *what)
{
    if (PyTuple_Check(o) && PyTuple_GET_SIZE(o) == size) return 1;
    PyErr_Format(PyExc_TypeError, "scan_matches: %s must be a tuple of %zd", what, size);
    return 0;
}

/* For each (fid, other, head) in ``anchors`` whose ``other`` is one edit
 * from the text read by ``r``, add (fid, start or start - len(other)) to
 * ``proposed``. */
static int
try_anchors(PyObject *anchors, const Reader *r, Py_ssize_t start, PyObject *proposed)
{
    if (!PyTuple_Check(anchors)) {
        PyErr_SetString(PyExc_TypeError, "scan_matches: anchors must be a tuple");
        return -1;
    }
    for (Py_ssize_t a = 0; a < PyTuple_GET_SIZE(anchors); a++) {
        PyObject *anchor = PyTuple_GET_ITEM(anchors, a);
        if (!is_tuple(anchor, 3, "an anchor")) return -1;
        PyObject *fid = PyTuple_GET_ITEM(anchor, 0), *other = PyTuple_GET_ITEM(anchor, 1);
        PyObject *head = PyTuple_GET_ITEM(anchor, 2);
        if (!PyLong_Check(fid)) {
            PyErr_SetString(PyExc_TypeError, "scan_matches: an anchor's key must be int");
            return -1;
        }
        if (ready_str(other, "scan_matches: an anchor's other half") < 0
            || ready_str(head, "scan_matches: an anchor's head") < 0)
            return -1;
        /* The Python twin's cheap test first (t0 in head or t1 in head; an
         * empty t0 or t1, past the text's edge, is in every head). */
        int hk = PyUnicode_KIND(head);
        const void *hd = PyUnicode_DATA(head);
        Py_ssize_t hn = PyUnicode_GET_LENGTH(head);
        int pass = 0;
        for (Py_ssize_t t = 0; t < 2 && !pass; t++) {
            int64_t c = char_at(r, t);
            if (c < 0) {
                pass = 1;
                break;
            }
            for (Py_ssize_t h = 0; h < hn; h++)
                if ((int64_t)PyUnicode_READ(hk, hd, h) == c) {
                    pass = 1;
                    break;
                }
        }
        if (!pass) continue;
        Py_ssize_t m = PyUnicode_GET_LENGTH(other);
        if (!edit_away(r, PyUnicode_KIND(other), PyUnicode_DATA(other), m)) continue;
        PyObject *pair = Py_BuildValue("(On)", fid, r->forward ? start : start - m);
        if (pair == NULL) return -1;
        int rc = PySet_Add(proposed, pair);
        Py_DECREF(pair);
        if (rc < 0) return -1;
    }
    return 0;
}

static PyObject *
scan_matches(PyObject *self, PyObject *args)
{
    PyObject *matches, *padded, *occ, *exact_keys, *proposed;
    Py_ssize_t cap;
    if (!PyArg_ParseTuple(args, "OUO!O!O!n:scan_matches", &matches, &padded, &PyDict_Type, &occ, &PySet_Type,
                          &exact_keys, &PySet_Type, &proposed, &cap))
        return NULL;
    if (PyUnicode_READY(padded) < 0) return NULL;
    int kind = PyUnicode_KIND(padded);
    const void *data = PyUnicode_DATA(padded);
    Py_ssize_t n = PyUnicode_GET_LENGTH(padded);
    PyObject *iterator = PyObject_GetIter(matches);
    if (iterator == NULL) return NULL;
    PyObject *item;
    while ((item = PyIter_Next(iterator)) != NULL) {
        int ok = 0;
        PyObject *payload;
        Py_ssize_t end, length, left, right, fid;
        if (!is_tuple(item, 2, "a match") || !is_tuple(payload = PyTuple_GET_ITEM(item, 1), 7, "a payload"))
            goto next;
        end = PyLong_AsSsize_t(PyTuple_GET_ITEM(item, 0));
        length = PyLong_AsSsize_t(PyTuple_GET_ITEM(payload, 0));
        left = PyLong_AsSsize_t(PyTuple_GET_ITEM(payload, 2));
        right = PyLong_AsSsize_t(PyTuple_GET_ITEM(payload, 3));
        fid = PyLong_AsSsize_t(PyTuple_GET_ITEM(payload, 4));
        if (PyErr_Occurred()) goto next;
        if (end < 0 || end >= n || length < 1 || length > end + 1) {
            PyErr_SetString(PyExc_ValueError, "scan_matches: a match outside the text");
            goto next;
        }
        Py_ssize_t start = end - length + 1;
        PyObject *classes = PyTuple_GET_ITEM(payload, 1);
        if (!PyTuple_Check(classes)) {
            PyErr_SetString(PyExc_TypeError, "scan_matches: classes must be a tuple");
            goto next;
        }
        if (PyTuple_GET_SIZE(classes) > 0) {
            PyObject *hit = Py_BuildValue("(nni)", start + left - 1, end - right, 100);
            if (hit == NULL) goto next;
            for (Py_ssize_t c = 0; c < PyTuple_GET_SIZE(classes); c++) {
                PyObject *cid = PyTuple_GET_ITEM(classes, c);
                PyObject *found = PyDict_GetItemWithError(occ, cid); /* borrowed */
                if (found == NULL) {
                    if (PyErr_Occurred()) break;
                    PyObject *fresh = PyList_New(1);
                    if (fresh == NULL) break;
                    PyList_SET_ITEM(fresh, 0, Py_NewRef(hit));
                    int rc = PyDict_SetItem(occ, cid, fresh);
                    Py_DECREF(fresh);
                    if (rc < 0) break;
                } else if (!PyList_Check(found)) {
                    PyErr_SetString(PyExc_TypeError, "scan_matches: occ values must be lists");
                    break;
                } else if (PyList_GET_SIZE(found) < cap && PyList_Append(found, hit) < 0) {
                    break;
                }
            }
            Py_DECREF(hit);
            if (PyErr_Occurred()) goto next;
            if (fid >= 0 && PySet_Add(exact_keys, PyTuple_GET_ITEM(payload, 4)) < 0) goto next;
        }
        PyObject *lefts = PyTuple_GET_ITEM(payload, 5), *rights = PyTuple_GET_ITEM(payload, 6);
        if (PyTuple_Check(lefts) && PyTuple_GET_SIZE(lefts) > 0) {
            Py_ssize_t limit = end + length + 3 < n ? end + length + 3 : n;
            Reader r = {kind, data, end + 1, limit, 1};
            if (try_anchors(lefts, &r, start, proposed) < 0) goto next;
        } else if (!PyTuple_Check(lefts)) {
            PyErr_SetString(PyExc_TypeError, "scan_matches: anchors must be a tuple");
            goto next;
        }
        if (PyTuple_Check(rights) && PyTuple_GET_SIZE(rights) > 0) {
            Py_ssize_t lo = start - length - 1 > 0 ? start - length - 1 : 0;
            Reader r = {kind, data, start, lo, 0};
            if (try_anchors(rights, &r, start, proposed) < 0) goto next;
        } else if (!PyTuple_Check(rights)) {
            PyErr_SetString(PyExc_TypeError, "scan_matches: anchors must be a tuple");
            goto next;
        }
        ok = 1;
    next:
        Py_DECREF(item);
        if (!ok) {
            Py_DECREF(iterator);
            return NULL;
        }
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred()) return NULL;
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------- module */

static PyMethodDef methods[] = {
    {"squeeze", squeeze, METH_O, "pykernels.squeeze in C."},
    {"squeeze_words", squeeze_words, METH_VARARGS, "pykernels.squeeze_words in C."},
    {"one_edit", one_edit, METH_VARARGS, "pykernels.one_edit in C."},
    {"gap_cost", gap_cost, METH_O, "pykernels.gap_cost in C."},
    {"chain", chain, METH_VARARGS, "pykernels.chain in C."},
    {"scan_matches", scan_matches, METH_VARARGS, "pykernels.scan_matches in C."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernels", "The C twins of callguard.detect.pykernels.", -1, methods,
};

PyMODINIT_FUNC
PyInit__kernels(void)
{
    return PyModule_Create(&module);
}
