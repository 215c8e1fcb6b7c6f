// IPTC Media Topics, top level: labels for subject codes and the subject filter's suggestions.

export const TOPICS = {
  "medtop:01000000": "arts, culture, entertainment and media", "medtop:02000000": "crime, law and justice",
  "medtop:03000000": "disaster, accident and emergency incident", "medtop:04000000": "economy, business and finance",
  "medtop:05000000": "education", "medtop:06000000": "environment", "medtop:07000000": "health",
  "medtop:08000000": "human interest", "medtop:09000000": "labour", "medtop:10000000": "lifestyle and leisure",
  "medtop:11000000": "politics and government", "medtop:12000000": "religion", "medtop:13000000": "science and technology",
  "medtop:14000000": "society", "medtop:15000000": "sport", "medtop:16000000": "conflict, war and peace",
  "medtop:17000000": "weather",
}; // prettier-ignore
