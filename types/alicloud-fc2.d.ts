// @alicloud/fc2 ships no types; we use only its constructor and invokeFunction (typed where used).
declare module '@alicloud/fc2';
