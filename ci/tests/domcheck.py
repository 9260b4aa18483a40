#!/usr/bin/env python3
"""Checks of report.html's DOM as a browser left it (ci/tests/93-report.sh).

usage: domcheck.py page DOM.html SUMMARY.CSV CYCLES.CSV
       domcheck.py sorted DOM.html COLUMN asc|desc
       domcheck.py history DOM.html PROFILE=PASSED/TOKENS,... [absent-run-id...]
       domcheck.py provenance DOM.html SLOT=LIMIT...

Prints one "ok   - ..." or "FAIL - ..." line per check, like ci/tests/lib.sh;
exit status 1 when a check failed. The DOM is Chromium's --dump-dom output,
parsed with the standard library (html.parser) into a small tree.
"""
import csv
import re
import sys
from html.parser import HTMLParser

VOID = {'meta', 'link', 'br', 'img', 'input', 'hr', 'col', 'area', 'base', 'wbr', 'source', 'track', 'embed'}
failed = 0


def report(ok, what):
    global failed
    print(('ok   - ' if ok else 'FAIL - ') + what)
    failed += 0 if ok else 1


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.a, self.parent, self.kids = tag, dict(attrs), parent, []

    def text(self):
        return ''.join(k if isinstance(k, str) else k.text() for k in self.kids)

    def all(self, tag=None, cls=None, **attrs):
        out = []
        for k in self.kids:
            if isinstance(k, str):
                continue
            if (tag is None or k.tag == tag) and (cls is None or cls in k.a.get('class', '').split()) and \
                    all(k.a.get(n.replace('_', '-')) == v for n, v in attrs.items()):
                out.append(k)
            out.extend(k.all(tag, cls, **attrs))
        return out

    def one(self, tag=None, cls=None, **attrs):
        found = self.all(tag, cls, **attrs)
        return found[0] if found else None


class Parser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node('#root', [], None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.kids.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_startendtag(self, tag, attrs):
        self.cur.kids.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        c = self.cur
        while c is not self.root and c.tag != tag:
            c = c.parent
        if c is not self.root:
            self.cur = c.parent

    def handle_data(self, d):
        self.cur.kids.append(d)


def parse(path):
    p = Parser()
    p.feed(open(path, encoding='utf-8').read())
    return p.root


RANK = {'FAIL': 0, 'ERROR': 1, 'INCOMPLETE': 2, 'SKIP': 3, 'PASS': 4}


def body_checks(root):
    body = root.one('body')
    report(body is not None and body.a.get('data-script') == 'ok', 'the page script ran to its end (body data-script="ok")')
    report(body is not None and 'data-script-error' not in body.a,
           'no script error (%s)' % (body.a.get('data-script-error', 'none') if body else 'no body'))
    table = root.one('table', id='token-table')
    report(table is not None and table.a.get('data-sortable') == 'ready', 'the token table is sortable (data-sortable="ready")')
    return table


def table_checks(root, table, summary):
    rows = table.one('tbody').all('tr') if table else []
    report(len(rows) == len(summary), 'one table row per token (%d rows, summary.csv %d)' % (len(rows), len(summary)))
    slots = [r.all('td')[0].text() for r in rows]
    report(sorted(slots) == sorted(s['slot'] for s in summary), 'the rows are the tokens of summary.csv (%s)' % slots)
    ranks = [RANK.get(r.a.get('data-verdict'), 5) for r in rows]
    report(ranks == sorted(ranks), 'failing tokens first (%s)' % [r.a.get('data-verdict') for r in rows])
    by_slot = {s['slot']: s for s in summary}
    for r in rows:
        slot, verdict = r.all('td')[0].text(), r.a.get('data-verdict')
        report(verdict == by_slot.get(slot, {}).get('verdict'), '%s: verdict %s as in summary.csv' % (slot, verdict))
        if RANK.get(verdict, 5) > 2:
            continue
        link = r.all('td')[4].one('a', cls='details')
        target = link.a.get('href', '')[1:] if link else ''
        sec = root.one('section', id=target) if target else None
        report(sec is not None and sec.a.get('data-slot') == slot,
               '%s (%s) links to its details (%s)' % (slot, verdict, link.a.get('href') if link else 'no link'))
        if sec is None:
            continue
        fails = sec.all('div', cls='fail')
        hints = [f.one('p', cls='hint') for f in fails]
        report(fails and all(h is not None and len(h.text()) > 30 for h in hints),
               '%s: %d failed test(s), each with its message and next step' % (slot, len(fails)))


def int_ticks(svg):
    """The x tick labels of a cycles plot (centred under the axis)."""
    return [t.text() for t in svg.all('text', cls='tick') if t.a.get('text-anchor') == 'middle']


def cycles_checks(root, summary, cycles_csv):
    cycles = {}
    for c in csv.DictReader(open(cycles_csv, newline='')):
        cycles.setdefault(c['slot'], []).append(c)
    for sec in root.all('section', cls='token'):
        slot, n = sec.a.get('data-slot'), len(cycles.get(sec.a.get('data-slot'), []))
        svg = sec.one('svg', cls='plot')
        if not n:
            report(svg is None, '%s: no cycles, no cycles plot' % slot)
            continue
        report(svg is not None and svg.a.get('id', '').startswith('plot-cycles-'), '%s: a recognition-cycles plot' % slot)
        if svg is None:
            continue
        boxes, marks = svg.all('g', cls='box'), svg.all(cls='mk')
        if n > 20:
            report(len(boxes) >= 3 and not marks, '%s: %d cycles drawn as distributions, a box per stage (%d)'
                   % (slot, n, len(boxes)))
            continue
        ticks = int_ticks(svg)
        report(ticks and all(re.fullmatch(r'[1-9][0-9]*', t) and int(t) <= n for t in ticks),
               '%s: %d cycles on an integer axis (ticks %s)' % (slot, n, ticks))
        tips = [m.parent.one('title').text() for m in marks if m.parent.tag == 'g']  # the legend's are not in a <g>
        stages = {t.split(',')[1].split(':')[0].strip() for t in tips if t.startswith('cycle ')}
        report(len(stages) >= 3 and not boxes, '%s: one marker series per stage (%s), no lines' % (slot, sorted(stages)))
        bad = sum(1 for c in cycles[slot] if c['verdict'] != 'pass')
        report(len(svg.all('g', cls='failed')) == bad, '%s: %d failed cycle(s) shaded' % (slot, bad))


def plots_checks(root, limit_slots):
    lat = root.one('svg', id='plot-latency-0')
    report(lat is not None and len(lat.all('circle', cls='dot')) >= 100, 'the signing-latency plot, a strip of samples per token')
    first = root.one('svg', id='plot-first-apdu')
    report(first is not None and len(first.all('g', cls='box')) >= 2, 'the power-on -> first answer plot, a box per token')
    if limit_slots:
        report(first is not None and first.all('g', cls='limit'), 'it draws FIRST_APDU_MAX_MS where the run recorded it')
    for slot in limit_slots:
        sec = root.one('section', data_slot=slot)
        svg = sec.one('svg', cls='plot') if sec else None
        lim = svg.all('g', cls='limit') if svg else []
        report(lim and 'FIRST_APDU_MAX_MS' in lim[0].text(), '%s: its cycles plot draws FIRST_APDU_MAX_MS' % slot)


def cmd_page(dom, summary_csv, cycles_csv, *limit_slots):
    root = parse(dom)
    summary = list(csv.DictReader(open(summary_csv, newline='')))
    table = body_checks(root)
    table_checks(root, table, summary)
    cycles_checks(root, summary, cycles_csv)
    plots_checks(root, limit_slots)


def cmd_sorted(dom, column, direction):
    root = parse(dom)
    table = body_checks(root)
    report(table is not None and table.a.get('data-sorted') == '%s:%s' % (column, direction),
           'sorted by %s %s (data-sorted=%s)' % (column, direction, table.a.get('data-sorted') if table else None))
    heads = table.one('thead').all('th') if table else []
    names = [th.a.get('data-col') for th in heads]
    col = names.index(column) if column in names else 0
    values = [r.all('td')[col].text() for r in table.one('tbody').all('tr')] if table else []
    numeric = heads and heads[col].a.get('data-type') == 'num'
    want = sorted(values, key=float if numeric else None, reverse=direction == 'desc')
    report(values == want and len(values) > 1, 'the rows are in that order (%s)' % values)


def cmd_history(dom, expected, *absent):
    root = parse(dom)
    body_checks(root)
    for item in expected.split(','):
        prof, counts = item.split('=')
        svg = [s for s in root.all('svg') if s.a.get('id', '').startswith('plot-history-')
               and (' %s,' % prof) in s.one('title').text()]
        bars = svg[0].all('g', cls='bar') if svg else []
        texts = [b.one('text').text() for b in bars]
        report(svg and texts == counts.split(';'), '%s: yield of the earlier run and this one (%s)' % (prof, texts))
        report(svg and len(svg[0].all('rect', cls='cur')) == 1, '%s: this run highlighted' % prof)
        labels = ' '.join(t.text() for t in svg[0].all('text')) if svg else ''
        for run in absent:
            report(run not in labels, '%s: run %s (newer than this one) left out' % (prof, run))


def cmd_provenance(dom, *limits):
    root = parse(dom)
    body_checks(root)
    table = root.one(id='provenance-table')
    groups = table.all('details') if table else []
    report(len(groups) >= 2 and len(table.all('tr')) >= 4,
           'provenance.csv shown as tables, the run\'s and one per slot (%d)' % len(groups))
    cells = ' '.join(td.text() for td in table.all('td')) if table else ''
    report('<pin>' in cells, 'PIN variables shown as <pin>')
    for item in limits:
        slot, value = item.split('=')
        sec = root.one('section', data_slot=slot)
        cap = sec.one('p', cls='caption') if sec else None
        report(cap is not None and ('FIRST_APDU_MAX_MS %s ms, from provenance.csv' % value) in cap.text(),
               '%s: the limit from provenance.csv (%s)' % (slot, cap.text()[-120:] if cap else 'no caption'))


if __name__ == '__main__':
    cmds = {'page': cmd_page, 'sorted': cmd_sorted, 'history': cmd_history, 'provenance': cmd_provenance}
    cmds[sys.argv[1]](*sys.argv[2:])
    sys.exit(1 if failed else 0)
