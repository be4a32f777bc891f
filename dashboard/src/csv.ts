// The report as CSV: one row per step, for the whole funnel and for each breakdown value.
import type { FunnelReport } from './api.js';

const HEADER = ['breakdown', 'step_number', 'step', 'entered', 'exited', 'in_flight', 'gone', 'exit_rate', 'time_to_next_median_ms', 'time_to_next_p90_ms', 'engaged_ms_median'];

export function reportCsv(report: FunnelReport): string {
  const rows: (string | number | null)[][] = [HEADER];
  report.steps.forEach((s, k) => {
    rows.push(['(all)', k + 1, s.name, s.entered, s.exited, s.in_flight, s.exited - s.in_flight, s.exit_rate, s.time_to_next_ms?.median ?? null, s.time_to_next_ms?.p90 ?? null, s.engaged_ms_median]);
  });
  for (const cell of report.breakdown) {
    cell.steps.forEach((s, k) => {
      rows.push([`${report.breakdown_by}: ${cell.key ?? '(none)'}`, k + 1, s.name, s.entered, s.exited, s.in_flight, s.exited - s.in_flight, s.exit_rate, null, null, null]);
    });
  }
  return rows.map((row) => row.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

/** RFC 4180 quoting, and a leading quote on text a spreadsheet would run as a formula. */
function csvCell(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function download(filename: string, text: string, type = 'text/csv;charset=utf-8'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
