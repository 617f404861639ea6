import { describe, expect, it } from 'vitest';
import {
  escapeHtml,
  formatAgo,
  formatDuration,
  formatInteger,
  formatTime,
  formatUsd,
  html,
  joinHtml,
  shortId,
} from './html.ts';

describe('escapeHtml', () => {
  it('escapes every character that can open markup or end an attribute', () => {
    expect(escapeHtml(`<script>alert("x" + 'y')</script> & \``)).toBe(
      '&lt;script&gt;alert(&quot;x&quot; + &#39;y&#39;)&lt;/script&gt; &amp; &#96;',
    );
  });

  it('prints null and undefined as nothing and numbers as text', () => {
    expect(escapeHtml(null)).toBe('');
    expect(escapeHtml(undefined)).toBe('');
    expect(escapeHtml(42)).toBe('42');
  });
});

describe('html template', () => {
  it('escapes interpolated text but not nested templates', () => {
    const cell = html`<td title="${'a"b'}">${'<b>'}</td>`;
    expect(html`<tr>${cell}</tr>`.value).toBe('<tr><td title="a&quot;b">&lt;b&gt;</td></tr>');
  });

  it('joins arrays, escaping strings inside them, and drops null, undefined and false', () => {
    expect(html`${['<i>', html`<i>`, null, undefined, false, 0]}`.value).toBe('&lt;i&gt;<i>0');
    expect(joinHtml([html`<b>a</b>`, 'c&d'], ', ').value).toBe('<b>a</b>, c&amp;d');
  });
});

describe('formatting', () => {
  it('formats money, counts and missing values', () => {
    expect(formatUsd(1234.5)).toBe('$1,234.50');
    expect(formatInteger(1234567)).toBe('1,234,567');
    expect(formatUsd(null)).toBe('–');
    expect(formatInteger(Number.NaN)).toBe('–');
  });

  it('formats durations from milliseconds to hours', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(12_340)).toBe('12.3 s');
    expect(formatDuration(245_000)).toBe('4 min 05 s');
    expect(formatDuration(7_380_000)).toBe('2 h 03 min');
  });

  it('shows times in UTC and ages relative to now', () => {
    const now = new Date('2026-10-01T12:00:00Z');
    expect(formatTime(new Date('2026-10-01T09:08:07.654Z'))).toBe('2026-10-01 09:08:07 UTC');
    expect(formatAgo(new Date('2026-10-01T11:53:00Z'), now)).toBe('7 min ago');
    expect(formatAgo(new Date('2026-09-28T12:00:00Z'), now)).toBe('3 d ago');
    expect(formatAgo(null, now)).toBe('never');
  });

  it('shortens run ids to their first 8 characters', () => {
    expect(shortId('f2fb9dbb-1234-4abc-8def-0123456789ab')).toBe('f2fb9dbb');
    expect(shortId('manual')).toBe('manual');
  });
});
