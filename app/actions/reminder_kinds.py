"""Imports every module that registers reminder handlers, so the actor knows them all."""
