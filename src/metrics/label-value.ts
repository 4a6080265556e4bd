/** A label value in Prometheus's style, from a code such as "bad-mac" or "NO_SUCH_SERVICE": lower case, underscores. */
export const labelValue = (s: string): string => s.toLowerCase().replace(/-/g, '_');
