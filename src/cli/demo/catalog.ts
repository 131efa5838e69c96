/**
 * @module Fixed vocabulary of the demo store "Tessera Home" (smart-home devices sold on the web and in a
 * companion app): people's names, companies, browsers, phones, pages, campaigns and products. Domains are the
 * reserved `example.*` ones (RFC 2606) and IPs come from the documentation ranges (RFC 5737), so no demo value
 * belongs to anyone.
 */

export const SITE = 'https://shop.example.com'

export const FIRST_NAMES = [
  'Ann', 'Ben', 'Chloe', 'David', 'Emma', 'Farid', 'Grace', 'Hiro', 'Isla', 'Jonas', 'Keira', 'Liam', 'Maya', 'Noah',
  'Olivia', 'Priya', 'Quinn', 'Rafael', 'Sofia', 'Tomas', 'Uma', 'Victor', 'Wen', 'Xavier', 'Yara', 'Zoe', 'Amir',
  'Bianca', 'Carlos', 'Dana', 'Elif', 'Felix', 'Giulia', 'Hannah', 'Ivan', 'Julia', 'Kofi', 'Lena', 'Mateo', 'Nina',
] as const

export const LAST_NAMES = [
  'Anderson', 'Bauer', 'Costa', 'Dubois', 'Eriksen', 'Fischer', 'Garcia', 'Hughes', 'Ivanova', 'Jensen', 'Kowalski',
  'Lopez', 'Murphy', 'Nakamura', 'Okafor', 'Patel', 'Quinn', 'Rossi', 'Schmidt', 'Tanaka', 'Ulrich', 'Varga',
  'Walsh', 'Xu', 'Yilmaz', 'Zimmermann', 'Becker', 'Chen', 'Dalton', 'Evans', 'Ferreira', 'Gupta', 'Hansen', 'Kim',
] as const

export const EMAIL_DOMAINS = ['example.com', 'example.org', 'example.net'] as const

export const COMPANIES = [
  'Acme Corp', 'Globex', 'Initech', 'Umbrella Health', 'Hooli', 'Stark Logistics', 'Wayne Retail', 'Soylent Foods',
  'Vandelay Industries', 'Wonka Confectionery', 'Tyrell Systems', 'Massive Dynamic', 'Pied Piper', 'Aperture Labs',
  'Oceanic Air', 'Monarch Solutions', 'Blue Sun', 'Nakatomi Trading', 'Gekko & Co', 'Sterling Cooper',
] as const

export const PLANS = ['free', 'starter', 'pro', 'enterprise'] as const
export const JOB_TITLES = ['Facilities Manager', 'Homeowner', 'Office Manager', 'Engineer', 'Architect', 'Property Manager', 'Designer'] as const

/** US area codes; numbers are `+1 <area> 555 xxxx`. */
export const AREA_CODES = ['212', '312', '415', '503', '617', '646', '702', '720', '737', '206', '305', '404', '512', '619', '202'] as const

export interface Browser {
  readonly userAgent: string
  readonly mobile: boolean
  readonly screen: { readonly width: number; readonly height: number }
}

export const DESKTOP_BROWSERS: readonly Browser[] = [
  { mobile: false, screen: { width: 1920, height: 1080 }, userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36' },
  { mobile: false, screen: { width: 1512, height: 982 }, userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15' },
  { mobile: false, screen: { width: 2560, height: 1440 }, userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0' },
  { mobile: false, screen: { width: 1920, height: 1080 }, userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80' },
  { mobile: false, screen: { width: 1366, height: 768 }, userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36' },
  { mobile: false, screen: { width: 1728, height: 1117 }, userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36' },
]

export const MOBILE_BROWSERS: readonly Browser[] = [
  { mobile: true, screen: { width: 390, height: 844 }, userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1' },
  { mobile: true, screen: { width: 412, height: 915 }, userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36' },
  { mobile: true, screen: { width: 384, height: 854 }, userAgent: 'Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36' },
  { mobile: true, screen: { width: 430, height: 932 }, userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1' },
]

export interface PhoneModel {
  readonly platform: 'ios' | 'android'
  readonly manufacturer: string
  readonly model: string
  readonly name: string
  readonly osVersion: string
  readonly screen: { readonly width: number; readonly height: number }
}

export const PHONES: readonly PhoneModel[] = [
  { platform: 'ios', manufacturer: 'Apple', model: 'iPhone15,2', name: 'iPhone 14 Pro', osVersion: '17.4.1', screen: { width: 393, height: 852 } },
  { platform: 'ios', manufacturer: 'Apple', model: 'iPhone16,1', name: 'iPhone 15 Pro', osVersion: '17.5', screen: { width: 393, height: 852 } },
  { platform: 'ios', manufacturer: 'Apple', model: 'iPhone14,7', name: 'iPhone 14', osVersion: '16.7.8', screen: { width: 390, height: 844 } },
  { platform: 'android', manufacturer: 'Google', model: 'Pixel 8', name: 'Pixel 8', osVersion: '14', screen: { width: 412, height: 915 } },
  { platform: 'android', manufacturer: 'samsung', model: 'SM-S911B', name: 'Galaxy S23', osVersion: '14', screen: { width: 384, height: 854 } },
  { platform: 'android', manufacturer: 'Xiaomi', model: '2201117TG', name: 'Redmi Note 11', osVersion: '13', screen: { width: 393, height: 873 } },
]

export const APP = { name: 'Tessera Home', version: '4.2.0', build: '4201', namespace: 'com.example.tesserahome' } as const

export interface IotModel {
  readonly type: string
  readonly model: string
  readonly prefix: string
  readonly firmware: string
}

export const IOT_MODELS: readonly IotModel[] = [
  { type: 'thermostat', model: 'TH-200', prefix: 'TH', firmware: '3.8.2' },
  { type: 'air_quality_sensor', model: 'AQ-10', prefix: 'AQ', firmware: '1.4.0' },
  { type: 'smart_plug', model: 'SP-3', prefix: 'SP', firmware: '2.1.7' },
]

export interface Locale {
  readonly locale: string
  readonly timezone: string
  readonly currency: 'USD' | 'EUR' | 'GBP'
}

export const LOCALES: readonly Locale[] = [
  { locale: 'en-US', timezone: 'America/New_York', currency: 'USD' },
  { locale: 'en-US', timezone: 'America/Los_Angeles', currency: 'USD' },
  { locale: 'en-US', timezone: 'America/Chicago', currency: 'USD' },
  { locale: 'de-DE', timezone: 'Europe/Berlin', currency: 'EUR' },
  { locale: 'fr-FR', timezone: 'Europe/Paris', currency: 'EUR' },
  { locale: 'en-GB', timezone: 'Europe/London', currency: 'GBP' },
]

export interface Campaign {
  readonly source: string
  readonly medium: string
  readonly name: string
  readonly term?: string
  readonly content?: string
  readonly landing: string
  readonly referrer: string
}

export const CAMPAIGNS: readonly Campaign[] = [
  { source: 'google', medium: 'cpc', name: 'spring_sale', term: 'smart thermostat', landing: '/products/th-200', referrer: 'https://www.google.com/' },
  { source: 'facebook', medium: 'paid_social', name: 'retargeting_q2', content: 'carousel_v3', landing: '/', referrer: 'https://l.facebook.com/' },
  { source: 'newsletter', medium: 'email', name: 'weekly_digest', content: 'hero_cta', landing: '/blog/cut-your-heating-bill', referrer: '' },
  { source: 'instagram', medium: 'social', name: 'influencer_home_tour', landing: '/products/aq-10', referrer: 'https://l.instagram.com/' },
  { source: 'bing', medium: 'cpc', name: 'brand', term: 'tessera home', landing: '/', referrer: 'https://www.bing.com/' },
]

/** Referrers of visits that carry no campaign (organic search, links, direct). */
export const ORGANIC_REFERRERS = ['https://www.google.com/', 'https://duckduckgo.com/', 'https://news.ycombinator.com/', '', ''] as const

export interface Page {
  readonly path: string
  readonly title: string
  /** Set for product pages. */
  readonly productId?: string
}

export interface Product {
  readonly product_id: string
  readonly sku: string
  readonly name: string
  readonly category: string
  readonly price: number
}

export const PRODUCTS: readonly Product[] = [
  { product_id: 'th-200', sku: 'TH-200-WHT', name: 'TH-200 Smart Thermostat', category: 'Climate', price: 179 },
  { product_id: 'aq-10', sku: 'AQ-10-GRY', name: 'AQ-10 Air Quality Sensor', category: 'Climate', price: 89 },
  { product_id: 'sp-3', sku: 'SP-3-2PK', name: 'SP-3 Smart Plug (2-pack)', category: 'Power', price: 39 },
  { product_id: 'hub-1', sku: 'HUB-1', name: 'Home Hub', category: 'Hubs', price: 129 },
  { product_id: 'ds-5', sku: 'DS-5-3PK', name: 'Door Sensor (3-pack)', category: 'Security', price: 59 },
  { product_id: 'care-yr', sku: 'CARE-12M', name: 'Tessera Care (12 months)', category: 'Subscriptions', price: 49 },
]

export const PAGES: readonly Page[] = [
  { path: '/', title: 'Tessera Home: the smart home, simply' },
  { path: '/pricing', title: 'Pricing | Tessera Home' },
  { path: '/blog/cut-your-heating-bill', title: 'Cut your heating bill by 20% | Tessera Home blog' },
  { path: '/support/setup', title: 'Setting up your devices | Tessera Home support' },
  ...PRODUCTS.filter((p) => p.category !== 'Subscriptions').map((p) => ({ path: `/products/${p.product_id}`, title: `${p.name} | Tessera Home`, productId: p.product_id })),
]

export const APP_SCREENS = ['Home', 'Devices', 'Energy Report', 'Shop', 'Settings'] as const
