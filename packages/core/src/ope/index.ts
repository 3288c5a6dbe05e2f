export * from './estimators';
