"""kafkaops.core"""
