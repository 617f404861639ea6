import { describe, expect, it } from 'vitest';
import { isTaggable } from './resources.ts';

describe('taggability from the SDK declarations', () => {
  it('knows which AWS and Azure resources take tags', () => {
    expect(isTaggable('aws:s3/bucket:Bucket')).toBe(true);
    expect(isTaggable('aws:ecs/taskDefinition:TaskDefinition')).toBe(true);
    expect(isTaggable('aws:s3/bucketVersioning:BucketVersioning')).toBe(false);
    expect(isTaggable('aws:scheduler/schedule:Schedule')).toBe(false);
    expect(isTaggable('azure-native:storage:StorageAccount')).toBe(true);
    expect(isTaggable('azure-native:app:Job')).toBe(true);
    expect(isTaggable('azure-native:authorization:RoleAssignment')).toBe(false);
    expect(isTaggable('azure-native:storage:BlobContainer')).toBe(false);
  });
});
