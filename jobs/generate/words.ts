/** Small hand-written word lists for fake but realistic-looking store data (no faker). */

// biome-ignore format: compact word list
export const FIRST_NAMES = [
  'James', 'Mary', 'John', 'Patricia', 'Robert', 'Jennifer', 'Michael', 'Linda', 'David', 'Elizabeth',
  'William', 'Barbara', 'Richard', 'Susan', 'Joseph', 'Jessica', 'Thomas', 'Sarah', 'Daniel', 'Karen',
  'Matthew', 'Emma', 'Lucas', 'Sofia', 'Noah', 'Olivia', 'Liam', 'Mia', 'Hugo', 'Chloe',
  'Lukas', 'Hannah', 'Mateo', 'Lucia', 'Kenji', 'Yuki', 'Oliver', 'Charlotte', 'Jack', 'Isla',
] as const;

// biome-ignore format: compact word list
export const LAST_NAMES = [
  'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Martinez', 'Wilson',
  'Anderson', 'Taylor', 'Thomas', 'Moore', 'Martin', 'Lee', 'Thompson', 'White', 'Harris', 'Clark',
  'Muller', 'Schmidt', 'Schneider', 'Dubois', 'Laurent', 'Bernard', 'Rossi', 'Russo', 'Fernandez', 'Lopez',
  'Jansen', 'De Vries', 'Tanaka', 'Sato', 'Suzuki', 'Evans', 'Walker', 'Hughes', 'Kelly', 'Murphy',
] as const;

// biome-ignore format: compact word list
export const STREET_NAMES = [
  'Oak', 'Maple', 'Cedar', 'Elm', 'Pine', 'Lake', 'Hill', 'Park', 'Church', 'Mill',
  'River', 'Station', 'Victoria', 'King', 'Queen', 'Market', 'Garden', 'Bridge', 'Forest', 'Sunset',
] as const;

export const STREET_SUFFIXES = ['St', 'Ave', 'Rd', 'Lane', 'Way', 'Blvd', 'Drive', 'Court'] as const;

export const EMAIL_DOMAINS = ['example.com', 'example.net', 'example.org', 'mail.example.com'] as const;

export interface CountryInfo {
  code: string;
  /** Share of customers. */
  weight: number;
  currency: string;
  callingCode: string;
  cities: readonly string[];
}

export const COUNTRIES: readonly CountryInfo[] = [
  {
    code: 'US',
    weight: 58,
    currency: 'USD',
    callingCode: '+1',
    cities: ['New York', 'Los Angeles', 'Chicago', 'Houston', 'Seattle', 'Austin', 'Denver', 'Boston'],
  },
  {
    code: 'GB',
    weight: 10,
    currency: 'GBP',
    callingCode: '+44',
    cities: ['London', 'Manchester', 'Bristol', 'Leeds', 'Edinburgh'],
  },
  {
    code: 'DE',
    weight: 8,
    currency: 'EUR',
    callingCode: '+49',
    cities: ['Berlin', 'Munich', 'Hamburg', 'Cologne'],
  },
  {
    code: 'FR',
    weight: 6,
    currency: 'EUR',
    callingCode: '+33',
    cities: ['Paris', 'Lyon', 'Marseille', 'Lille'],
  },
  { code: 'ES', weight: 3, currency: 'EUR', callingCode: '+34', cities: ['Madrid', 'Barcelona', 'Valencia'] },
  { code: 'IT', weight: 3, currency: 'EUR', callingCode: '+39', cities: ['Rome', 'Milan', 'Turin'] },
  {
    code: 'NL',
    weight: 3,
    currency: 'EUR',
    callingCode: '+31',
    cities: ['Amsterdam', 'Rotterdam', 'Utrecht'],
  },
  {
    code: 'JP',
    weight: 4,
    currency: 'JPY',
    callingCode: '+81',
    cities: ['Tokyo', 'Osaka', 'Yokohama', 'Kyoto'],
  },
  {
    code: 'AU',
    weight: 5,
    currency: 'AUD',
    callingCode: '+61',
    cities: ['Sydney', 'Melbourne', 'Brisbane', 'Perth'],
  },
];

export const LOYALTY_TIERS = [
  ['bronze', 55],
  ['silver', 28],
  ['gold', 12],
  ['platinum', 5],
] as const;

export interface CategoryInfo {
  name: string;
  /** Short code for SKUs. */
  code: string;
  brands: readonly string[];
  nouns: readonly string[];
  /** Typical USD price range. */
  minUsd: number;
  maxUsd: number;
}

export const CATEGORIES: readonly CategoryInfo[] = [
  {
    name: 'Electronics',
    code: 'ELE',
    brands: ['Voltix', 'Nimbus', 'Aurora Audio', 'Kestrel', 'Pixelon'],
    nouns: ['Headphones', 'Speaker', 'Charger', 'Smartwatch', 'Keyboard', 'Webcam', 'Power Bank', 'Router'],
    minUsd: 15,
    maxUsd: 450,
  },
  {
    name: 'Home & Kitchen',
    code: 'HOM',
    brands: ['Hearthly', 'Copperleaf', 'Nordhaus', 'Casa Verde'],
    nouns: ['Kettle', 'Blender', 'Knife Set', 'Cutting Board', 'Coffee Grinder', 'Toaster', 'Skillet'],
    minUsd: 10,
    maxUsd: 220,
  },
  {
    name: 'Apparel',
    code: 'APP',
    brands: ['Northwind', 'Urban Thread', 'Tidewater', 'Alder & Ash'],
    nouns: ['T-Shirt', 'Hoodie', 'Jacket', 'Jeans', 'Sneakers', 'Scarf', 'Rain Coat', 'Beanie'],
    minUsd: 12,
    maxUsd: 180,
  },
  {
    name: 'Beauty',
    code: 'BEA',
    brands: ['Lumiere', 'Petal & Pine', 'Dermaly', 'Glowhaus'],
    nouns: ['Face Cream', 'Serum', 'Shampoo', 'Lip Balm', 'Sunscreen', 'Body Lotion'],
    minUsd: 6,
    maxUsd: 90,
  },
  {
    name: 'Sports & Outdoors',
    code: 'SPO',
    brands: ['Summit Gear', 'Trailhead', 'Velocity', 'Blue Ridge'],
    nouns: ['Yoga Mat', 'Water Bottle', 'Backpack', 'Tent', 'Running Shorts', 'Dumbbell Set', 'Bike Light'],
    minUsd: 8,
    maxUsd: 350,
  },
  {
    name: 'Toys & Games',
    code: 'TOY',
    brands: ['Brightblock', 'Puzzlewick', 'Kidora', 'Meeple Works'],
    nouns: ['Board Game', 'Puzzle', 'Building Set', 'Plush Bear', 'RC Car', 'Card Game'],
    minUsd: 8,
    maxUsd: 120,
  },
  {
    name: 'Books',
    code: 'BOO',
    brands: ['Penwright Press', 'Harbor Books', 'Quillstone', 'Atlas House'],
    nouns: ['Cookbook', 'Novel', 'Travel Guide', 'Notebook', 'Atlas', 'Biography'],
    minUsd: 5,
    maxUsd: 60,
  },
  {
    name: 'Grocery',
    code: 'GRO',
    brands: ['Green Acre', 'Daily Harvest', 'Bean & Leaf', 'Salt Road'],
    nouns: ['Coffee Beans', 'Green Tea', 'Olive Oil', 'Granola', 'Dark Chocolate', 'Honey', 'Pasta'],
    minUsd: 3,
    maxUsd: 45,
  },
];

// biome-ignore format: compact word list
export const PRODUCT_ADJECTIVES = [
  'Classic', 'Premium', 'Compact', 'Eco', 'Pro', 'Ultra', 'Essential', 'Deluxe', 'Mini', 'Everyday', 'Smart', 'Organic',
] as const;

/** Typical USD value of one unit of each currency; daily rates drift around these. */
export const BASE_FX_TO_USD: Readonly<Record<string, number>> = {
  USD: 1,
  EUR: 1.085,
  GBP: 1.27,
  JPY: 0.0067,
  AUD: 0.66,
};

/** Currency mix of the product catalogue (list prices). */
export const PRODUCT_CURRENCIES = [
  ['USD', 80],
  ['EUR', 8],
  ['GBP', 5],
  ['JPY', 4],
  ['AUD', 3],
] as const;

/** Flat shipping fee per order currency, waived above FREE_SHIPPING_USD. */
export const SHIPPING_FEE: Readonly<Record<string, number>> = {
  USD: 5.99,
  EUR: 4.99,
  GBP: 3.99,
  JPY: 600,
  AUD: 8.95,
};

export const FREE_SHIPPING_USD = 75;
