/* qpenc.c - quoted-printable encoding of message bodies; see qpenc.h
 *
 * The message is the sender's and untrusted: any byte may appear in
 * the body and in the header values looked at here.
 */
#include <string.h>

#include "qpenc.h"

static const char hex[] = "0123456789ABCDEF";

int
qpenc_piece(struct str *out, const char *p, size_t n, size_t *col, int last)
{
	unsigned char c;
	size_t i, t;
	char e[3];

	/* the output is at most 3 bytes per input byte plus soft breaks */
	for (i = 0; i < n; i++) {
		c = (unsigned char)p[i];
		if ((c >= 33 && c <= 126 && c != '=') ||
		    ((c == ' ' || c == '\t') && !(last && i == n - 1))) {
			e[0] = (char)c;
			t = 1;
		} else {
			e[0] = '=';
			e[1] = hex[c >> 4];
			e[2] = hex[c & 15];
			t = 3;
		}
		/* room for the token and a soft break's '=' */
		if (*col + t > QPENC_LINE - 1) {
			if (!str_catb(out, "=\n", 2))
				return 0;
			*col = 0;
		}
		if (!str_catb(out, e, t))
			return 0;
		*col += t;
	}
	return 1;
}

/* startword - value v starts with word w (any case) followed by the
 * end, a blank, ';' or '/' */
static int
startword(const char *v, size_t n, const char *w)
{
	size_t i;

	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	for (i = 0; w[i]; i++)
		if (i >= n || str_lowerc(v[i]) != w[i])
			return 0;
	return i == n || v[i] == ' ' || v[i] == '\t' || v[i] == ';' ||
	    v[i] == '/' || v[i] == '\r' || v[i] == '(';
}

int
qpenc_convertible(const char *ct, size_t ctn, const char *cte, size_t cten)
{
	if (startword(ct, ctn, "multipart") || startword(ct, ctn, "message"))
		return 0;
	if (startword(cte, cten, "base64") || startword(cte, cten, "quoted-printable"))
		return 0;
	return 1;
}

size_t
qpenc_field(const char *line, size_t n, const char *name)
{
	size_t i;

	for (i = 0; name[i]; i++)
		if (i >= n || str_lowerc(line[i]) != str_lowerc(name[i]))
			return 0;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i >= n || line[i] != ':')
		return 0;
	for (i++; i < n && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	return i;
}

/* header_line - whether a line can belong to a header: a field "name:"
 * (printable name, no blanks) or, after the first line, a continuation */
static int
header_line(const char *p, size_t n, int first)
{
	size_t i;

	if (n > 0 && (p[0] == ' ' || p[0] == '\t'))
		return !first;
	for (i = 0; i < n; i++) {
		if (p[i] == ':')
			return i > 0;
		if ((unsigned char)p[i] <= 32 || (unsigned char)p[i] >= 127)
			return 0;
	}
	return 0;
}

static int
has8(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] & 0x80)
			return 1;
	return 0;
}

static int
bit(const unsigned char *b, size_t i)
{
	return i < QPMIME_ENTITIES && (b[i / 8] >> (i % 8)) & 1;
}

static void
setbit(unsigned char *b, size_t i)
{
	if (i < QPMIME_ENTITIES)
		b[i / 8] |= (unsigned char)(1 << (i % 8));
}

static void
keep(char *v, size_t *vn, const char *p, size_t n)
{
	if (n > QPMIME_FIELD - *vn)
		n = QPMIME_FIELD - *vn;
	memcpy(v + *vn, p, n);
	*vn += n;
	v[*vn] = 0;
}

/* boundary - the boundary parameter of a Content-Type value into b;
 * its length, 0 when there is none or it is too long */
static size_t
boundary(const char *v, size_t n, char *b)
{
	size_t i, k, e;

	for (i = 0; i + 8 <= n; i++) {
		for (k = 0; k < 8 && str_lowerc(v[i + k]) == "boundary"[k]; k++)
			;
		if (k < 8 || (i > 0 && v[i - 1] != ';' && v[i - 1] != ' ' && v[i - 1] != '\t'))
			continue;
		for (k = i + 8; k < n && (v[k] == ' ' || v[k] == '\t'); k++)
			;
		if (k >= n || v[k] != '=')
			continue;
		for (k++; k < n && (v[k] == ' ' || v[k] == '\t'); k++)
			;
		if (k < n && v[k] == '"') {
			k++;
			for (e = k; e < n && v[e] != '"'; e++)
				;
		} else
			for (e = k; e < n && v[e] != ';' && v[e] != ' ' && v[e] != '\t'; e++)
				;
		if (e == k || e - k > QPMIME_BOUNDARY)
			return 0;
		memcpy(b, v + k, e - k);
		b[e - k] = 0;
		return e - k;
	}
	return 0;
}

void
qpmime_init(struct qpmime *m)
{
	memset(m, 0, sizeof *m);
	m->inhead = m->first = 1;
}

void
qpmime_rewind(struct qpmime *m, int conv8)
{
	size_t i;

	m->rewrite = 1;
	m->inhead = m->first = 1;
	m->cur = m->drop = m->inleaf = m->conv = m->mimever = 0;
	m->form = m->bodyform = QPMIME_TEXT;
	m->entity = m->depth = m->ctn = m->cten = m->col = 0;
	m->ct[0] = m->cte[0] = 0;
	m->convany = 0;
	for (i = 0; i < sizeof m->okbit; i++) {
		m->convbit[i] = m->okbit[i] & ((conv8 ? m->bit8[i] : 0) | m->longbit[i]);
		if (m->convbit[i])
			m->convany = 1;
	}
}

/* endhead - the header of the current entity ended */
static void
endhead(struct qpmime *m, unsigned *add)
{
	char b[QPMIME_BOUNDARY + 1];
	size_t bn;

	m->inhead = 0;
	m->inleaf = 0;
	m->conv = 0;
	m->bodyform = QPMIME_TEXT;	/* a preamble, or no encoding */
	if (startword(m->ct, m->ctn, "multipart") && (bn = boundary(m->ct, m->ctn, b)) > 0 &&
	    m->depth < QPMIME_DEPTH) {
		memcpy(m->bnd[m->depth], b, bn + 1);
		m->bndn[m->depth++] = bn;
	} else {
		m->inleaf = 1;
		if (startword(m->cte, m->cten, "base64"))
			m->bodyform = QPMIME_BASE64;
		else if (startword(m->cte, m->cten, "quoted-printable"))
			m->bodyform = QPMIME_QP;
		if (!m->rewrite && qpenc_convertible(m->ct, m->ctn, m->cte, m->cten))
			setbit(m->okbit, m->entity);
		if (m->rewrite && bit(m->convbit, m->entity)) {
			m->conv = 1;
			*add |= QPMIME_ADD_CTE;
		}
	}
	if (m->rewrite && m->entity == 0 && !m->mimever && m->convany)
		*add |= QPMIME_ADD_MIMEVER;
}

/* body - a body piece: learn, or say what to do */
static int
body(struct qpmime *m, const char *p, size_t n)
{
	if (!m->rewrite) {
		if (m->inleaf && has8(p, n)) {
			if (bit(m->okbit, m->entity))
				m->any = 1;
			setbit(m->bit8, m->entity);
		}
		if (m->inleaf && m->col > QPMIME_LINE)
			setbit(m->longbit, m->entity);
		return QPMIME_COPY;
	}
	m->form = m->bodyform;
	return m->conv ? QPMIME_ENCODE : QPMIME_COPY;
}

/* delimiter - p is "--" boundary, maybe "--", maybe blanks: 1, or 2
 * when it closes the multipart; 0 when not */
static int
delimiter(const char *p, size_t n, const char *b, size_t bn)
{
	size_t i;
	int close = 0;

	if (n < bn + 2 || p[0] != '-' || p[1] != '-' || memcmp(p + 2, b, bn) != 0)
		return 0;
	i = bn + 2;
	if (i + 1 < n + 0 && p[i] == '-' && p[i + 1] == '-') {
		close = 1;
		i += 2;
	}
	for (; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return 0;
	return 1 + close;
}

int
qpmime_piece(struct qpmime *m, const char *p, size_t n, int bol, unsigned *add)
{
	size_t d, v;
	int k;

	*add = 0;
	if (has8(p, n))
		m->has8 = 1;
	m->col = bol ? n : m->col + n;
	if (m->col > QPMIME_LINE)
		m->longline = 1;
	m->form = QPMIME_TEXT;
	if (!bol)
		return m->inhead ? (m->drop ? QPMIME_DROP : QPMIME_COPY) : body(m, p, n);
	for (d = m->depth; d > 0; d--) {
		if ((k = delimiter(p, n, m->bnd[d - 1], m->bndn[d - 1])) == 0)
			continue;
		m->inleaf = m->conv = m->drop = 0;
		m->bodyform = QPMIME_TEXT;
		if (k == 2) {
			/* the end of that multipart: its epilogue follows */
			m->depth = d - 1;
			m->inhead = 0;
		} else {
			m->depth = d;
			m->entity++;
			m->inhead = m->first = 1;
			m->cur = 0;
			m->ctn = m->cten = 0;
			m->ct[0] = m->cte[0] = 0;
		}
		return QPMIME_COPY;
	}
	if (!m->inhead)
		return body(m, p, n);
	if (n == 0 || !header_line(p, n, m->first)) {
		endhead(m, add);
		if (n == 0)
			return QPMIME_COPY;
		if (m->rewrite && *add)
			*add |= QPMIME_ADD_BLANK;
		return body(m, p, n);
	}
	m->first = 0;
	if (p[0] == ' ' || p[0] == '\t') {
		if (m->cur == 1)
			keep(m->ct, &m->ctn, p, n);
		else if (m->cur == 2)
			keep(m->cte, &m->cten, p, n);
		return m->drop ? QPMIME_DROP : QPMIME_COPY;
	}
	m->cur = 0;
	m->drop = 0;
	if ((v = qpenc_field(p, n, "Content-Type"))) {
		m->cur = 1;
		m->ctn = 0;
		keep(m->ct, &m->ctn, p + v, n - v);
	} else if ((v = qpenc_field(p, n, "Content-Transfer-Encoding"))) {
		m->cur = 2;
		m->cten = 0;
		keep(m->cte, &m->cten, p + v, n - v);
		m->drop = m->rewrite && bit(m->convbit, m->entity);
	} else if (m->entity == 0 && qpenc_field(p, n, "MIME-Version"))
		m->mimever = 1;
	return m->drop ? QPMIME_DROP : QPMIME_COPY;
}
