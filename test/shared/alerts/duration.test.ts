import { describe, expect, it } from 'vitest';
import { formatDuration } from '../../../shared/alerts/duration.ts';

describe('formatDuration', () => {
  it('says at most two units, rounding down', () => {
    expect(formatDuration(0)).toBe('0 s');
    expect(formatDuration(59_999)).toBe('59 s');
    expect(formatDuration(14 * 60_000 + 30_000)).toBe('14 min');
    expect(formatDuration((2 * 60 + 14) * 60_000)).toBe('2 h 14 min');
    expect(formatDuration(3 * 3_600_000)).toBe('3 h');
    expect(formatDuration((3 * 24 + 4) * 3_600_000 + 59 * 60_000)).toBe('3 d 4 h');
    expect(formatDuration(2 * 86_400_000)).toBe('2 d');
    expect(formatDuration(-5)).toBe('0 s');
  });
});
