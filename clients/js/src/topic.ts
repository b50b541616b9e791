/**
 * topicMatches tells whether a subscription pattern selects a topic: no pattern
 * (undefined, '' or '*') selects every topic; a pattern ending in '*' selects
 * the topics that start with what precedes it ('orders.*' selects
 * 'orders.updated' but not 'orders'); any other pattern only that exact topic.
 */
export function topicMatches(pattern: string | undefined, topic: string): boolean {
  if (pattern === undefined || pattern === '' || pattern === '*') return true;
  if (pattern.endsWith('*')) return topic.startsWith(pattern.slice(0, -1));
  return pattern === topic;
}
