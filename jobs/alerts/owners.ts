/**
 * Who is told about what: the owners ALERT_ROUTES routes by (each check, incident and held-back batch names one),
 * and the owner of each layer's pipeline gates. The watchdog's rules and the batch-failure reports both name them.
 */
export const OWNERS = {
  platform: 'data-platform',
  commerce: 'commerce-analytics',
  growth: 'growth-analytics',
  finance: 'finance-data',
} as const;

/** Who owns a layer's blocking pipeline gates (quality, transform) and, for bronze, its held-back batches. */
export const LAYER_OWNERS: Record<string, string> = {
  bronze: OWNERS.platform,
  silver: OWNERS.platform,
  gold: OWNERS.commerce,
};
