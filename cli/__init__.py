"""kafkaops.cli"""
