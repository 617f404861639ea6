import { describe, expect, it } from 'vitest';
import { openEventStream } from '../../adapters/stream/index.ts';
import { EVENT_TOPICS } from '../contracts/event-topics.ts';
import { readToTheEnd } from './index.ts';

/** The drain skips its group join only when the group has read every event: never when one is left unread. */
describe('stream-ingest drain: nothing left to read', () => {
  const topics = EVENT_TOPICS.map((topic) => ({ name: topic.topic, partitions: topic.partitions }));
  const endOf = async (stream: ReturnType<typeof openEventStream>) =>
    (await Promise.all(topics.map((topic) => stream.endOffsets(topic.name)))).flat();

  it('is caught up on empty topics, not with an event never committed, and again once committed to the end', async () => {
    const stream = openEventStream('memory://');
    await stream.ensureTopics(topics);
    expect(await readToTheEnd(stream, 'g')).toBe(true);
    const topic = topics[0]?.name as string;
    await stream.publish(topic, [{ key: 'k', value: Buffer.from('{}') }]);
    expect(await readToTheEnd(stream, 'g')).toBe(false);
    const ends = (await endOf(stream)).filter((end) => end.offset > 0);
    await stream.setGroupOffsets(
      'g',
      ends.map((end) => ({ ...end, offset: end.offset - 1 })),
    );
    expect(await readToTheEnd(stream, 'g')).toBe(false);
    await stream.setGroupOffsets('g', ends);
    expect(await readToTheEnd(stream, 'g')).toBe(true);
    await stream.publish(topics[1]?.name as string, [{ key: 'k', value: Buffer.from('{}') }]);
    expect(await readToTheEnd(stream, 'g')).toBe(false);
    await stream.close();
  });
});
